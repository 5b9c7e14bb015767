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
    _care,
    _chronic,
    _lab_imaging,
    _maternal_child,
    _medical,
    _medical_inpatient,
    _public_health,
    _resident,
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

# The record-model release: raised whenever any record type gains a version.
SCHEMA_RELEASE = 1

__all__ = [
    "REGISTRATION_CSV_COLUMNS",
    "SCHEMA_RELEASE",
    "Body",
    "Category",
    "Code",
    "CodeList",
    "FieldError",
    "IdNumberError",
    "Kind",
    "RecordEnvelope",
    "RecordInvalid",
    "RecordType",
    "SchemaError",
    "Status",
    "UnknownRecordType",
    "VersionTooNew",
    "check",
    "check_digit",
    "code_list",
    "code_list_names",
    "fhir_bundle",
    "fields_set",
    "id_number_birth_date",
    "id_number_sex",
    "parse_id_number",
    "record_type",
    "record_types",
    "to_fhir",
    "validate",
]
