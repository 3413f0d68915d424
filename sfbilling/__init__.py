"""The operator's command line (`sfbilling`): a thin layer over the project's packages."""
