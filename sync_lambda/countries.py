"""ISO 3166-1 alpha-2 codes → English short names, to find a country in the org's picklist."""

from __future__ import annotations

from typing import Final

NAMES: Final = {
    "AE": "United Arab Emirates", "AR": "Argentina", "AT": "Austria", "AU": "Australia",
    "BE": "Belgium", "BG": "Bulgaria", "BR": "Brazil", "CA": "Canada", "CH": "Switzerland",
    "CL": "Chile", "CN": "China", "CO": "Colombia", "CY": "Cyprus", "CZ": "Czechia",
    "DE": "Germany", "DK": "Denmark", "EE": "Estonia", "ES": "Spain", "FI": "Finland",
    "FR": "France", "GB": "United Kingdom", "GR": "Greece", "HK": "Hong Kong", "HR": "Croatia",
    "HU": "Hungary", "ID": "Indonesia", "IE": "Ireland", "IL": "Israel", "IN": "India",
    "IS": "Iceland", "IT": "Italy", "JP": "Japan", "KR": "Korea, Republic of",
    "LI": "Liechtenstein", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia",
    "MT": "Malta", "MX": "Mexico", "MY": "Malaysia", "NG": "Nigeria", "NL": "Netherlands",
    "NO": "Norway", "NZ": "New Zealand", "PE": "Peru", "PH": "Philippines", "PL": "Poland",
    "PT": "Portugal", "RO": "Romania", "SA": "Saudi Arabia", "SE": "Sweden", "SG": "Singapore",
    "SI": "Slovenia", "SK": "Slovakia", "TH": "Thailand", "TR": "Turkey", "TW": "Taiwan",
    "US": "United States", "VN": "Vietnam", "ZA": "South Africa",
}
# Other spellings orgs use for the same countries.
ALIASES: Final = {
    "GB": ("Great Britain", "UK", "United Kingdom of Great Britain and Northern Ireland"),
    "US": ("United States of America", "USA"),
    "KR": ("South Korea", "Korea"),
    "CZ": ("Czech Republic",),
    "VN": ("Viet Nam",),
    "TR": ("Türkiye",),
}
