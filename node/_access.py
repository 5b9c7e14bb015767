"""Who may do what on a clinic node: the role matrix, as data.

Rules:
1. Roles are fixed: clerk, doctor, nurse, pharmacist, public-health, admin.
2. An action is allowed only if the role's row grants it; there is no
   "superuser". The admin manages accounts and reads the audit log but does
   not read clinical records (least privilege).
3. Clinical reads are granted per record type; a role that may read no
   clinical type still sees the demographics its job needs.
4. Referrals and consultations (``_referrals``) are a doctor's act; nurses
   see them (to prepare the transfer), other roles do not.
5. The desk workflow of a visit (``_desk``) has one permission per step, held
   by the role that works that step: the clerk registers, queues and takes
   payment, the nurse triages and does examinations and lab, the doctor
   consults and orders, the pharmacist dispenses. Its records (``DESK_ONLY_TYPES``)
   are written and read only through the desk, never as plain records.
"""

from __future__ import annotations

from enum import StrEnum

import schemas
from schemas import Category

__all__ = [
    "DEFAULT_PURPOSE",
    "DESK_ONLY_TYPES",
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
    BREAK_GLASS = "record.break-glass"  # withheld sensitive records, with a reason, audited (hub alerts)
    READ_REFERRALS = "referral.read"  # referrals and consultations in and out, with their status
    REFER = "referral.act"  # refer, accept or decline, refer back, close; ask and answer consultations
    MANAGE_USERS = "users.manage"
    READ_AUDIT = "audit.read"
    READ_CODES = "codes.read"
    DESK_QUEUE = "desk.queue"  # see today's queue and a visit's progress
    DESK_CHECKIN = "desk.checkin"  # put a resident in the queue, cancel a registration
    DESK_TRIAGE = "desk.triage"  # triage and vitals
    DESK_CONSULT = "desk.consult"  # call in, consultation, prescriptions and orders
    DESK_CHARGE = "desk.charge"  # payment and refund (the cashier)
    DESK_DISPENSE = "desk.dispense"
    DESK_EXAMS = "desk.exams"  # specimens, examinations, their reports
    DESK_FINISH = "desk.finish"  # close a visit and write it to the health card


_ALL_CATEGORIES = frozenset(Category)

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CLERK: frozenset(
        {
            Permission.SEARCH,
            Permission.REGISTER,
            Permission.READ_DEMOGRAPHICS,
            Permission.UPDATE_DEMOGRAPHICS,
            Permission.READ_CODES,
            Permission.DESK_QUEUE,
            Permission.DESK_CHECKIN,
            Permission.DESK_CHARGE,
            Permission.DESK_FINISH,
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
            Permission.BREAK_GLASS,
            Permission.READ_REFERRALS,
            Permission.REFER,
            Permission.READ_CODES,
            Permission.DESK_QUEUE,
            Permission.DESK_CONSULT,
            Permission.DESK_FINISH,
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
            Permission.READ_REFERRALS,
            Permission.READ_CODES,
            Permission.DESK_QUEUE,
            Permission.DESK_TRIAGE,
            Permission.DESK_EXAMS,
        }
    ),
    Role.PHARMACIST: frozenset(
        {
            Permission.SEARCH,
            Permission.READ_DEMOGRAPHICS,
            Permission.READ_RECORDS,
            Permission.READ_CODES,
            Permission.DESK_QUEUE,
            Permission.DESK_DISPENSE,
        }
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

# Written and read only through the desk's steps (rule 4), never through the plain records API.
DESK_ONLY_TYPES = frozenset({"visit", "visit_step", "payment", "refund", "dispense", "card_registration"})

# Record types each clinical role records. Pharmacists dispense (a desk step), they do not author records.
_NURSE_TYPES = frozenset(
    {
        "allergy",
        "immunization",
        "health_exam",
        "lab_report",
        "imaging_report",
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
    return frozenset(
        rt.name
        for rt in schemas.record_types()
        if rt.kind is schemas.Kind.CLINICAL and rt.name not in DESK_ONLY_TYPES
    )


def readable_types(role: Role) -> frozenset[str]:
    cats = _READ_CATEGORIES[role]
    by_cat = {rt.name for rt in schemas.record_types() if rt.category in cats} & _clinical_types()
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
