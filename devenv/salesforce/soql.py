"""A SOQL subset: parse, validate against the schema, and run against the org's records.

Supported: field lists with parent-relationship paths (`blng__Account__r.Name`), `COUNT()` and
`COUNT(field)`, WHERE with = != <> < <= > >= IN, NOT IN, LIKE, AND/OR/NOT and parentheses (as in
Salesforce, AND and OR may not be mixed without parentheses), NULL/TRUE/FALSE, numbers, date and
datetime literals, ORDER BY (ASC/DESC, NULLS FIRST/LAST), LIMIT and OFFSET. String literals use
Salesforce's escape sequences exactly (`\\n \\r \\t \\b \\f \\" \\' \\\\`, and `\\_ \\%` in LIKE);
any other backslash sequence is a MALFORMED_QUERY, as in a real org.

Equality and IN on an indexed field (Id, unique/external id, references, Name) are answered from
the org's indexes, so an IN list of 200 external ids over 100,000 rows costs 200 lookups.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from devenv.salesforce import errors as codes
from devenv.salesforce import ids
from devenv.salesforce.errors import SalesforceError
from devenv.salesforce.schema import BOOLEAN, ID, NUMBER_TYPES, REFERENCE, FieldDef, ObjectDef
from devenv.salesforce.store import Org, Record

_LIKE_PERCENT = "\ue000"  # an escaped \% inside a string literal
_LIKE_UNDERSCORE = "\ue001"  # an escaped \_
_ESCAPES = {"n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t", "T": "\t", "b": "\b",
            "B": "\b", "f": "\f", "F": "\f", '"': '"', "'": "'", "\\": "\\",
            "%": _LIKE_PERCENT, "_": _LIKE_UNDERSCORE}
_KEYWORDS = frozenset({"select", "from", "where", "and", "or", "not", "in", "like", "order",
                       "by", "asc", "desc", "nulls", "first", "last", "limit", "offset", "null",
                       "true", "false", "count"})
_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\d:T]))
  | (?P<number>-?\d+(?:\.\d+)?(?![\w]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<string>')
""", re.VERBOSE)
# Salesforce's REST /query returns at most this many rows per page.
DEFAULT_PAGE_SIZE = 2000


def malformed(soql: str, pos: int, message: str) -> SalesforceError:
    """A MALFORMED_QUERY error pointing at `pos`, in the shape Salesforce writes it."""
    line_start = soql.rfind("\n", 0, pos) + 1
    row = soql.count("\n", 0, pos) + 1
    col = pos - line_start + 1
    text = f"\n{soql}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{message}"
    return SalesforceError.of(400, codes.MALFORMED_QUERY, text)


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token and where it starts."""

    kind: str
    value: Any
    pos: int


def tokenize(soql: str) -> list[Token]:
    """Split a SOQL statement into tokens, decoding string escapes."""
    out: list[Token] = []
    pos = 0
    while pos < len(soql):
        m = _TOKEN_RE.match(soql, pos)
        if m is None:
            raise malformed(soql, pos, f"unexpected token: '{soql[pos]}'")
        kind = m.lastgroup or ""
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "string":
            value, pos = _read_string(soql, m.end())
            out.append(Token("string", value, m.start()))
            continue
        text = m.group()
        if kind == "ident" and text.lower() in _KEYWORDS:
            out.append(Token("kw", text.lower(), m.start()))
        elif kind == "number":
            out.append(Token("number", float(text), m.start()))
        else:
            out.append(Token(kind, text, m.start()))
        pos = m.end()
    out.append(Token("eof", None, len(soql)))
    return out


def _read_string(soql: str, pos: int) -> tuple[str, int]:
    start = pos - 1
    chars: list[str] = []
    while pos < len(soql):
        ch = soql[pos]
        if ch == "\\":
            nxt = soql[pos + 1] if pos + 1 < len(soql) else ""
            if nxt not in _ESCAPES:
                raise malformed(soql, pos, "Invalid string literal '" + soql[start:pos + 2]
                                + "'. Illegal character sequence '\\" + nxt + "' in string "
                                "literal.")
            chars.append(_ESCAPES[nxt])
            pos += 2
        elif ch == "'":
            return "".join(chars), pos + 1
        else:
            chars.append(ch)
            pos += 1
    raise malformed(soql, start, "line 1:" + str(start) + " mismatched character '<EOF>' "
                    "expecting '''")


# ---------------------------------------------------------------------------------------------
# Syntax tree
@dataclass(frozen=True, slots=True)
class Path:
    """A field reference: `Name`, or `Rel__r.Field` (one or more relationship hops)."""

    parts: tuple[str, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Compare:
    """`path op value`, `path [NOT] IN (...)` or `path LIKE 'pattern'`."""

    path: Path
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class BoolOp:
    """AND / OR over two or more conditions."""

    op: str
    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """NOT condition."""

    item: Any


@dataclass(frozen=True, slots=True)
class OrderItem:
    """One ORDER BY term."""

    path: Path
    descending: bool
    nulls_last: bool


@dataclass(slots=True)
class Query:
    """A parsed SELECT statement."""

    object_name: str
    fields: list[Path] = field(default_factory=list)
    count: str | None = None  # "" for COUNT(), the field for COUNT(field)
    where: Any = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    object_pos: int = 0


class _Parser:
    def __init__(self, soql: str) -> None:
        self.soql = soql
        self.tokens = tokenize(soql)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, message: str | None = None) -> SalesforceError:
        t = self.tok
        shown = "<EOF>" if t.kind == "eof" else self.soql[t.pos:].split()[0] if t.pos < len(
            self.soql) else "<EOF>"
        return malformed(self.soql, t.pos, message or f"unexpected token: '{shown}'")

    def accept_kw(self, *words: str) -> bool:
        if self.tok.kind == "kw" and self.tok.value in words:
            self.i += 1
            return True
        return False

    def expect_kw(self, word: str) -> None:
        if not self.accept_kw(word):
            raise self.fail()

    def accept(self, kind: str, value: str | None = None) -> Token | None:
        t = self.tok
        if t.kind == kind and (value is None or t.value == value):
            self.i += 1
            return t
        return None

    def expect(self, kind: str, value: str | None = None) -> Token:
        t = self.accept(kind, value)
        if t is None:
            raise self.fail()
        return t

    def parse(self) -> Query:
        self.expect_kw("select")
        fields: list[Path] = []
        count: str | None = None
        if self.tok.kind == "kw" and self.tok.value == "count":
            self.i += 1
            self.expect("punct", "(")
            if self.accept("punct", ")"):
                count = ""
            else:
                count = self.expect("ident").value
                self.expect("punct", ")")
        else:
            while True:
                t = self.expect("ident")
                fields.append(Path(tuple(t.value.split(".")), t.pos))
                if not self.accept("punct", ","):
                    break
        self.expect_kw("from")
        obj = self.expect("ident")
        q = Query(obj.value, fields, count, object_pos=obj.pos)
        if self.accept_kw("where"):
            q.where = self.condition()
        if self.accept_kw("order"):
            self.expect_kw("by")
            while True:
                t = self.expect("ident")
                desc = self.accept_kw("desc")
                if not desc:
                    self.accept_kw("asc")
                nulls_last = desc
                if self.accept_kw("nulls"):
                    if self.accept_kw("last"):
                        nulls_last = True
                    else:
                        self.expect_kw("first")
                        nulls_last = False
                q.order_by.append(OrderItem(Path(tuple(t.value.split(".")), t.pos), desc,
                                            nulls_last))
                if not self.accept("punct", ","):
                    break
        if self.accept_kw("limit"):
            q.limit = self.integer()
        if self.accept_kw("offset"):
            q.offset = self.integer()
        if self.tok.kind != "eof":
            raise self.fail()
        return q

    def integer(self) -> int:
        t = self.expect("number")
        if t.value != int(t.value) or t.value < 0:
            raise malformed(self.soql, t.pos, "unexpected token: " + str(t.value))
        return int(t.value)

    def condition(self) -> Any:
        first = self.unary()
        if self.tok.kind == "kw" and self.tok.value in ("and", "or"):
            op = self.tok.value
            items = [first]
            while self.accept_kw(op):
                items.append(self.unary())
            if self.tok.kind == "kw" and self.tok.value in ("and", "or"):
                # Salesforce refuses `a AND b OR c`: parentheses are required.
                raise self.fail()
            return BoolOp(op, tuple(items))
        return first

    def unary(self) -> Any:
        if self.accept_kw("not"):
            return Not(self.unary())
        if self.accept("punct", "("):
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Compare:
        t = self.expect("ident")
        path = Path(tuple(t.value.split(".")), t.pos)
        if self.accept_kw("not"):
            self.expect_kw("in")
            return Compare(path, "not in", self.value_list())
        if self.accept_kw("in"):
            return Compare(path, "in", self.value_list())
        if self.accept_kw("like"):
            s = self.expect("string")
            return Compare(path, "like", s.value)
        op = self.expect("op").value
        return Compare(path, "!=" if op == "<>" else op, self.literal())

    def value_list(self) -> tuple[Any, ...]:
        self.expect("punct", "(")
        values = [self.literal()]
        while self.accept("punct", ","):
            values.append(self.literal())
        self.expect("punct", ")")
        return tuple(values)

    def literal(self) -> Any:
        t = self.tok
        if t.kind in ("string", "number", "date", "datetime"):
            self.i += 1
            if t.kind == "string" and (_LIKE_PERCENT in t.value or _LIKE_UNDERSCORE in t.value):
                raise malformed(self.soql, t.pos, "Invalid string literal: \\_ and \\% are only "
                                "valid in a LIKE expression")
            return t.value
        if self.accept_kw("null"):
            return None
        if self.accept_kw("true"):
            return True
        if self.accept_kw("false"):
            return False
        raise self.fail()


def parse(soql: str) -> Query:
    """Parse one SELECT statement (raises MALFORMED_QUERY on a syntax error)."""
    return _Parser(soql).parse()


# ---------------------------------------------------------------------------------------------
# Binding and execution
Getter = Callable[[Record], Any]


@dataclass(slots=True)
class _Bound:
    """A field path resolved against the schema: canonical names and a value getter."""

    names: tuple[str, ...]
    field: FieldDef
    get: Getter


def _invalid_field(soql: str, path: Path, obj: ObjectDef) -> SalesforceError:
    msg = (f"No such column '{path.parts[-1]}' on entity '{obj.name}'. If you are attempting to "
           "use a custom field, be sure to append the '__c' after the custom field name. Please "
           "reference your WSDL or the describe call for the appropriate names.")
    return SalesforceError.of(400, codes.INVALID_FIELD, _pointed(soql, path.pos, msg))


def _pointed(soql: str, pos: int, message: str) -> str:
    row = soql.count("\n", 0, pos) + 1
    col = pos - (soql.rfind("\n", 0, pos) + 1) + 1
    return f"\n{soql}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{message}"


class Executor:
    """Runs parsed queries against an `Org` (the caller holds `org.lock`)."""

    def __init__(self, org: Org, soql: str) -> None:
        self.org = org
        self.soql = soql

    def bind(self, obj: ObjectDef, path: Path) -> _Bound:
        parts = list(path.parts)
        # A leading object name qualifier (`Account.Name`) is allowed in SOQL.
        if len(parts) > 1 and parts[0].lower() == obj.name.lower():
            parts = parts[1:]
        names: list[str] = []
        hops: list[str] = []
        current = obj
        for rel in parts[:-1]:
            ref = current.relationship(rel)
            if ref is None or not ref.reference_to:
                msg = (f"Didn't understand relationship '{rel}' in field path. If you are "
                       "attempting to use a custom relationship, be sure to append the '__r' "
                       "after the custom relationship name. Please reference your WSDL or the "
                       "describe call for the appropriate names.")
                raise SalesforceError.of(400, codes.INVALID_FIELD,
                                         _pointed(self.soql, path.pos, msg))
            names.append(ref.relationship_name or rel)
            hops.append(ref.name)
            target = self.org.schema.get(ref.reference_to[0])
            if target is None:
                raise _invalid_field(self.soql, path, current)
            current = target
        f = current.field(parts[-1])
        if f is None:
            raise _invalid_field(self.soql, path, current)
        names.append(f.name)
        org = self.org

        def get(rec: Record, hops: tuple[str, ...] = tuple(hops), leaf: str = f.name) -> Any:
            for hop in hops:
                parent_id = rec.get(hop)
                if parent_id is None:
                    return None
                found = org.find(parent_id)
                if found is None:
                    return None
                rec = found[1]
            return rec.get(leaf)

        return _Bound(tuple(names), f, get)

    def predicate(self, obj: ObjectDef, node: Any) -> Callable[[Record], bool]:
        if isinstance(node, BoolOp):
            parts = [self.predicate(obj, item) for item in node.items]
            if node.op == "and":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if isinstance(node, Not):
            inner = self.predicate(obj, node.item)
            return lambda r: not inner(r)
        assert isinstance(node, Compare)
        bound = self.bind(obj, node.path)
        return _comparison(bound, node, self.soql)

    def candidates(self, obj: ObjectDef, where: Any) -> list[Record] | None:
        """Records pre-selected through an index, or None when a full scan is needed."""
        terms = where.items if isinstance(where, BoolOp) and where.op == "and" else (where,)
        best: set[str] | None = None
        for term in terms:
            if not isinstance(term, Compare) or term.op not in ("=", "in"):
                continue
            if len(term.path.parts) != 1:
                continue
            f = obj.field(term.path.parts[0])
            if f is None or not self.org.has_index(obj.name, f.name):
                continue
            values = term.value if term.op == "in" else (term.value,)
            if any(v is None for v in values):
                continue
            found: set[str] = set()
            for v in values:
                found |= self.org.index_lookup(obj.name, f.name, _index_value(f, v))
            if best is None or len(found) < len(best):
                best = found
        if best is None:
            return None
        table = self.org.records[obj.name.lower()]
        # Keep the table's (creation) order so results match a scan.
        if len(best) * 8 < len(table):
            return sorted((table[rid] for rid in best if rid in table),
                          key=lambda r: r["Id"])
        return [r for rid, r in table.items() if rid in best]

    def object_of(self, q: Query) -> ObjectDef:
        """The queried object (INVALID_TYPE when the org has none of that name)."""
        obj = self.org.schema.get(q.object_name)
        if obj is None:
            msg = (f"sObject type '{q.object_name}' is not supported. If you are attempting to "
                   "use a custom object, be sure to append the '__c' after the entity name. "
                   "Please reference your WSDL or the describe call for the appropriate names.")
            raise SalesforceError.of(400, codes.INVALID_TYPE,
                                     _pointed(self.soql, q.object_pos, msg))
        return obj

    def run(self, q: Query, *, include_deleted: bool, base_url: str) -> tuple[int, list[Any]]:
        """(totalSize, rows) for query `q`."""
        obj = self.object_of(q)
        selected = [self.bind(obj, p) for p in q.fields]
        count_field = (self.bind(obj, Path((q.count,), q.object_pos))
                       if q.count else None)
        pred = self.predicate(obj, q.where) if q.where is not None else None
        order = [(self.bind(obj, o.path), o) for o in q.order_by]
        rows = None if include_deleted or q.where is None else self.candidates(obj, q.where)
        if rows is None:
            rows = self.org.all(obj.name, include_deleted=include_deleted)
        if pred is not None:
            rows = [r for r in rows if pred(r)]
        for bound, item in reversed(order):
            rows = _sort(rows, bound, item)
        rows = rows[q.offset:]
        if q.limit is not None:
            rows = rows[:q.limit]
        if q.count is not None:
            if count_field is None:
                return len(rows), []
            n = sum(1 for r in rows if count_field.get(r) is not None)
            return 1, [{"attributes": {"type": "AggregateResult"}, "expr0": n}]
        return len(rows), [self.shape(obj, r, selected, base_url) for r in rows]

    def shape(self, obj: ObjectDef, rec: Record, selected: Sequence[_Bound],
              base_url: str) -> dict[str, Any]:
        """A record as REST returns it, with nested parent objects for relationship paths."""
        out: dict[str, Any] = {"attributes": {"type": obj.name,
                                              "url": f"{base_url}/sobjects/{obj.name}/{rec['Id']}"}}
        for b in selected:
            if len(b.names) == 1:
                out[b.names[0]] = rec.get(b.field.name)
                continue
            self._nest(obj, rec, b, out, base_url)
        return out

    def _nest(self, obj: ObjectDef, rec: Record, b: _Bound, out: dict[str, Any],
              base_url: str) -> None:
        container = out
        current_obj, current = obj, rec
        for rel in b.names[:-1]:
            ref = current_obj.relationship(rel)
            assert ref is not None
            parent_id = current.get(ref.name)
            found = self.org.find(parent_id) if parent_id else None
            if found is None:
                container[rel] = None
                return
            current_obj, current = found
            nxt = container.get(rel)
            if nxt is None:
                nxt = {"attributes": {"type": current_obj.name,
                                      "url": f"{base_url}/sobjects/{current_obj.name}/"
                                             f"{current['Id']}"}}
                container[rel] = nxt
            container = nxt
        container[b.names[-1]] = current.get(b.field.name)


def _index_value(f: FieldDef, v: Any) -> Any:
    if f.type in (ID, REFERENCE) and isinstance(v, str) and ids.is_valid(v):
        return ids.to_18(v)
    return v


def _sort(rows: list[Record], bound: _Bound, item: OrderItem) -> list[Record]:
    def key(rec: Record) -> tuple[int, Any]:
        v = bound.get(rec)
        if v is None:
            return (1 if item.nulls_last != item.descending else 0, "")
        return (0 if item.nulls_last != item.descending else 1,
                v.lower() if isinstance(v, str) else v)

    return sorted(rows, key=key, reverse=item.descending)


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch == _LIKE_PERCENT:
            out.append(re.escape("%"))
        elif ch == _LIKE_UNDERSCORE:
            out.append(re.escape("_"))
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _comparison(bound: _Bound, node: Compare, soql: str) -> Callable[[Record], bool]:
    f = bound.field
    get = bound.get
    fold = not f.case_sensitive and f.type not in (ID, REFERENCE)

    def norm(v: Any) -> Any:
        if v is None:
            return None
        if f.type in NUMBER_TYPES:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise SalesforceError.of(400, codes.INVALID_FIELD, _pointed(
                    soql, node.path.pos,
                    f"value of filter criterion for field '{f.name}' must be of type double "
                    "and should not be enclosed in quotes"))
            return float(v)
        if f.type == BOOLEAN:
            if not isinstance(v, bool):
                raise SalesforceError.of(400, codes.INVALID_FIELD, _pointed(
                    soql, node.path.pos,
                    f"value of filter criterion for field '{f.name}' must be of type boolean "
                    "and should not be enclosed in quotes"))
            return v
        if isinstance(v, bool | float):
            raise SalesforceError.of(400, codes.INVALID_FIELD, _pointed(
                soql, node.path.pos,
                f"value of filter criterion for field '{f.name}' must be of type "
                f"{f.type} and should be enclosed in quotes"))
        if f.type in (ID, REFERENCE) and isinstance(v, str) and ids.is_valid(v):
            return ids.to_18(v)
        return v.lower() if fold and isinstance(v, str) else v

    def value_of(rec: Record) -> Any:
        v = get(rec)
        return v.lower() if fold and isinstance(v, str) else v

    op = node.op
    if op == "like":
        rx = _like_regex(node.value)
        return lambda r: (v := get(r)) is not None and rx.fullmatch(str(v)) is not None
    if op in ("in", "not in"):
        wanted = {norm(v) for v in node.value}
        if op == "in":
            return lambda r: value_of(r) in wanted
        return lambda r: value_of(r) not in wanted
    target = norm(node.value)
    if op == "=":
        return lambda r: value_of(r) == target
    if op == "!=":
        return lambda r: value_of(r) != target
    if target is None:
        return lambda _r: False
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b, ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
    }
    cmp = ops[op]
    return lambda r: (v := value_of(r)) is not None and cmp(v, target)


def execute(org: Org, soql: str, *, include_deleted: bool = False,
            base_url: str = "/services/data/v59.0") -> tuple[int, list[Any]]:
    """Parse and run `soql`; returns (totalSize, records in REST shape)."""
    q = parse(soql)
    with org.lock:
        return Executor(org, soql).run(q, include_deleted=include_deleted, base_url=base_url)


_NUMBER_TYPES = frozenset({"double", "int", "currency", "percent"})
_APEX_TYPES = {"boolean": "Boolean", "double": "Double", "int": "Integer", "currency": "Decimal",
               "percent": "Double", "date": "Date", "datetime": "Datetime", "id": "Id",
               "reference": "Id"}


def _column(name: str, f: FieldDef | None, joins: list[dict[str, Any]]) -> dict[str, Any]:
    kind = f.type if f is not None else ""
    return {"aggregate": False, "apexType": _APEX_TYPES.get(kind, "String") if f else None,
            "booleanType": kind == "boolean", "columnName": name,
            "custom": name.endswith(("__c", "__r")), "displayName": name,
            "foreignKeyName": None, "insertable": bool(f and f.createable),
            "joinColumns": joins, "numberType": kind in _NUMBER_TYPES,
            "textType": bool(f) and kind not in _NUMBER_TYPES | {"boolean", "date", "datetime"},
            "updatable": bool(f and f.updateable)}


def columns(org: Org, soql: str) -> dict[str, Any]:
    """`query?columns=true`: the columns a query returns, relationships as nested join columns
    (what the Salesforce CLI reads before it shows rows)."""
    q = parse(soql)
    with org.lock:
        ex = Executor(org, soql)
        obj = ex.object_of(q)
        top: list[dict[str, Any]] = []
        for path in q.fields:
            bound = ex.bind(obj, path)
            level = top
            for rel in bound.names[:-1]:
                found = next((c for c in level if c["columnName"] == rel), None)
                if found is None:
                    found = _column(rel, None, [])
                    level.append(found)
                level = found["joinColumns"]
            level.append(_column(bound.names[-1], bound.field, []))
        if q.count is not None:
            top.append({**_column("expr0", None, []), "aggregate": True, "apexType": "Integer",
                        "displayName": f"COUNT({q.count})", "numberType": True})
        return {"columnMetadata": top, "entityName": obj.name, "groupBy": False,
                "idSelected": any(c["columnName"] == "Id" for c in top),
                "keyPrefix": obj.key_prefix}
