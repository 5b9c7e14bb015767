"""The record model: every record type, its validation, code lists and versions.

Pure: no I/O beyond reading the code lists shipped inside the package, no clock
reads (callers pass ``today``). Node, hub and sync all validate through here.

Errors::

    SchemaError
    ├── RecordInvalid      (field-level problems; .errors lists FieldError(field, message))
    ├── UnknownRecordType
    └── VersionTooNew      (keep the record; apply after upgrading)
"""

from __future__ import annotations

# Importing the record-type modules registers their types.
from . import (  # noqa: F401
    _billing,
    _care,
    _chronic,
    _consent,
    _lab_imaging,
    _maternal_child,
    _medical,
    _medical_inpatient,
    _public_health,
    _resident,
    _visit,
)
from ._codes import Code, CodeList, code_list, code_list_names
from ._envelope import RecordEnvelope, Status
from ._errors import FieldError, RecordInvalid, SchemaError, UnknownRecordType, VersionTooNew
from ._fhir import fhir_bundle, to_fhir
from ._idnumber import (
    IdNumberError,
    check_digit,
    id_number_birth_date,
    id_number_sex,
    parse_id_number,
)
from ._money import (
    ChargeItem,
    OutpatientRule,
    SettlementSplit,
    YearToDate,
    drug_price_fen,
    fen_to_yuan,
    outpatient_rule,
    service_price_fen,
    split,
    yuan_to_fen,
)
from ._registry import (
    Body,
    Category,
    Kind,
    RecordType,
    check,
    fields_set,
    record_type,
    record_types,
    validate,
)
from ._resident import REGISTRATION_CSV_COLUMNS
from ._visit import EXAM_KINDS, FEE_KINDS
from ._visit_state import (
    VISIT_TYPES,
    Charge,
    DrugLine,
    OrderLine,
    Step,
    VisitEvent,
    VisitState,
    fold_visit,
    referenced_facts,
)

# The record-model release: raised whenever any record type gains a version.
SCHEMA_RELEASE = 1

__all__ = [
    "EXAM_KINDS",
    "FEE_KINDS",
    "REGISTRATION_CSV_COLUMNS",
    "SCHEMA_RELEASE",
    "VISIT_TYPES",
    "Body",
    "Category",
    "Charge",
    "ChargeItem",
    "Code",
    "CodeList",
    "DrugLine",
    "FieldError",
    "IdNumberError",
    "Kind",
    "OrderLine",
    "OutpatientRule",
    "RecordEnvelope",
    "RecordInvalid",
    "RecordType",
    "SchemaError",
    "SettlementSplit",
    "Status",
    "Step",
    "UnknownRecordType",
    "VersionTooNew",
    "VisitEvent",
    "VisitState",
    "YearToDate",
    "check",
    "check_digit",
    "code_list",
    "code_list_names",
    "drug_price_fen",
    "fen_to_yuan",
    "fhir_bundle",
    "fields_set",
    "fold_visit",
    "id_number_birth_date",
    "id_number_sex",
    "outpatient_rule",
    "parse_id_number",
    "record_type",
    "record_types",
    "referenced_facts",
    "service_price_fen",
    "split",
    "to_fhir",
    "validate",
    "yuan_to_fen",
]
