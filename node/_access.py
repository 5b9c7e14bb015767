"""Who may do what on a clinic node: the role matrix, as data.

Rules:
1. Roles are fixed: clerk, doctor, nurse, pharmacist, public-health, admin.
2. An action is allowed only if the role's row grants it; there is no
   "superuser". The admin manages accounts and reads the audit log but does
   not read clinical records (least privilege).
3. Clinical reads are granted per record type; a role that may read no
   clinical type still sees the demographics its job needs.
"""

from __future__ import annotations

from enum import StrEnum

import schemas
from schemas import Category

__all__ = [
    "DEFAULT_PURPOSE",
    "PERMISSIONS",
    "Permission",
    "Role",
    "allowed",
    "readable_types",
    "writable_types",
]


class Role(StrEnum):
    CLERK = "clerk"
    DOCTOR = "doctor"
    NURSE = "nurse"
    PHARMACIST = "pharmacist"
    PUBLIC_HEALTH = "public-health"
    ADMIN = "admin"


class Permission(StrEnum):
    SEARCH = "resident.search"
    REGISTER = "resident.register"
    READ_DEMOGRAPHICS = "resident.read"
    UPDATE_DEMOGRAPHICS = "resident.update"
    READ_RECORDS = "record.read"  # subject to readable_types
    WRITE_RECORDS = "record.write"  # subject to writable_types
    CORRECT_RECORDS = "record.correct"  # own clinic's records of writable types
    MANAGE_USERS = "users.manage"
    READ_AUDIT = "audit.read"
    READ_CODES = "codes.read"


_ALL_CATEGORIES = frozenset(Category)

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CLERK: frozenset(
        {
            Permission.SEARCH,
            Permission.REGISTER,
            Permission.READ_DEMOGRAPHICS,
            Permission.UPDATE_DEMOGRAPHICS,
            Permission.READ_CODES,
        }
    ),
    Role.DOCTOR: frozenset(
        {
            Permission.SEARCH,
            Permission.REGISTER,
            Permission.READ_DEMOGRAPHICS,
            Permission.UPDATE_DEMOGRAPHICS,
            Permission.READ_RECORDS,
            Permission.WRITE_RECORDS,
            Permission.CORRECT_RECORDS,
            Permission.READ_CODES,
        }
    ),
    Role.NURSE: frozenset(
        {
            Permission.SEARCH,
            Permission.READ_DEMOGRAPHICS,
            Permission.UPDATE_DEMOGRAPHICS,
            Permission.READ_RECORDS,
            Permission.WRITE_RECORDS,
            Permission.CORRECT_RECORDS,
            Permission.READ_CODES,
        }
    ),
    Role.PHARMACIST: frozenset(
        {Permission.SEARCH, Permission.READ_DEMOGRAPHICS, Permission.READ_RECORDS, Permission.READ_CODES}
    ),
    Role.PUBLIC_HEALTH: frozenset(
        {
            Permission.SEARCH,
            Permission.REGISTER,
            Permission.READ_DEMOGRAPHICS,
            Permission.UPDATE_DEMOGRAPHICS,
            Permission.READ_RECORDS,
            Permission.WRITE_RECORDS,
            Permission.CORRECT_RECORDS,
            Permission.READ_CODES,
        }
    ),
    Role.ADMIN: frozenset({Permission.MANAGE_USERS, Permission.READ_AUDIT, Permission.READ_CODES}),
}

# The purpose recorded in the audit log when a request does not state one.
DEFAULT_PURPOSE: dict[Role, str] = {
    Role.CLERK: "registration",
    Role.DOCTOR: "care",
    Role.NURSE: "care",
    Role.PHARMACIST: "dispensing",
    Role.PUBLIC_HEALTH: "public-health",
    Role.ADMIN: "administration",
}

_READ_CATEGORIES: dict[Role, frozenset[Category]] = {
    Role.CLERK: frozenset(),
    Role.DOCTOR: _ALL_CATEGORIES,
    Role.NURSE: _ALL_CATEGORIES,
    Role.PHARMACIST: frozenset(),  # by type below: allergies and prescriptions only
    Role.PUBLIC_HEALTH: _ALL_CATEGORIES - {Category.MEDICAL_SERVICE, Category.REFERRAL},
    Role.ADMIN: frozenset(),
}
_READ_EXTRA_TYPES: dict[Role, frozenset[str]] = {
    Role.PHARMACIST: frozenset({"allergy", "prescription", "encounter"}),
}

# Record types each clinical role records. Pharmacists dispense (a later step), they do not author records.
_NURSE_TYPES = frozenset(
    {
        "allergy",
        "immunization",
        "health_exam",
        "lab_report",
        "prenatal_visit",
        "postpartum_visit",
        "newborn_visit",
        "child_check",
        "elderly_assessment",
        "hypertension_followup",
        "diabetes_followup",
        "tb_followup",
    }
)
_PUBLIC_HEALTH_TYPES = frozenset(
    {
        "allergy",
        "immunization",
        "health_exam",
        "pregnancy_registration",
        "prenatal_visit",
        "delivery",
        "postpartum_visit",
        "newborn_visit",
        "child_check",
        "elderly_assessment",
        "hypertension_followup",
        "diabetes_followup",
        "mental_followup",
        "tb_followup",
        "birth",
        "death",
    }
)


def _clinical_types() -> frozenset[str]:
    return frozenset(rt.name for rt in schemas.record_types() if rt.kind is schemas.Kind.CLINICAL)


def readable_types(role: Role) -> frozenset[str]:
    cats = _READ_CATEGORIES[role]
    by_cat = {
        rt.name for rt in schemas.record_types() if rt.category in cats and rt.kind is schemas.Kind.CLINICAL
    }
    return frozenset(by_cat | _READ_EXTRA_TYPES.get(role, frozenset()))


def writable_types(role: Role) -> frozenset[str]:
    known = _clinical_types()
    if role is Role.DOCTOR:
        return known
    if role is Role.NURSE:
        return _NURSE_TYPES & known
    if role is Role.PUBLIC_HEALTH:
        return _PUBLIC_HEALTH_TYPES & known
    return frozenset()


def allowed(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]
