"""GetContact and IssueDataKeys: the person vault's RPCs."""

from __future__ import annotations

from typing import Any

import asyncpg
import grpc
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye_platform.grpc import InvalidArgument, NotFound, violation
from bullseye_platform.normalize import normalize_email, normalize_phone
from bullseye_platform.sealing import EMAIL_PREFIX, PHONE_PREFIX, SUBJECT_PREFIXES
from google.rpc.error_details_pb2 import BadRequest

from bullseye_identity.config import IdentityConfig
from bullseye_identity.vault import contacts
from bullseye_identity.vault.keyring import KeyRing

Context = grpc.aio.ServicerContext[Any, Any]

MAX_SUBJECTS = 1000
MAX_ID_LENGTH = 256
MAX_PERSONS = 500  # per BatchGetContacts: a send batch of campaign's
SUBJECT_FORMS = '"user:<user_id>", "anon:<anonymous_id>", "loyalty:<loyalty_id>", "email:<address>" or "phone:<E.164>"'
CHANNELS = {pb.CONTACT_CHANNEL_EMAIL: contacts.EMAIL, pb.CONTACT_CHANNEL_SMS: contacts.SMS}


def subject_violations(subjects: list[str]) -> list[BadRequest.FieldViolation]:
    """What is wrong with the subjects of an IssueDataKeys request, by index."""
    if not subjects:
        return [violation("subjects", 'needs at least one subject, e.g. "user:<user_id>"')]
    if len(subjects) > MAX_SUBJECTS:
        return [violation("subjects", f"has {len(subjects)} subjects; at most {MAX_SUBJECTS} per request")]
    return [violation(f"subjects[{i}]", problem) for i, s in enumerate(subjects) if (problem := _subject_problem(s))]


def _subject_problem(subject: str) -> str | None:
    prefix = next((p for p in SUBJECT_PREFIXES if subject.startswith(p)), None)
    if prefix is None or not 0 < len(subject) - len(prefix) <= MAX_ID_LENGTH:
        return (
            f"must be {SUBJECT_FORMS} with a non-empty id of at most {MAX_ID_LENGTH} characters (as ingestion accepts)"
        )
    value = subject.removeprefix(prefix)
    try:
        if prefix == EMAIL_PREFIX and normalize_email(value) != value:
            return "an email subject carries the address normalized (trimmed, lower-case)"
        if prefix == PHONE_PREFIX and normalize_phone(value, region=None) != value:
            return "a phone subject carries the number in E.164 form, e.g. phone:+33612345678"
    except ValueError as exc:
        return f"{prefix.rstrip(':')} subject: {exc}"
    return None


def contact_violations(request: pb.GetContactRequest) -> list[BadRequest.FieldViolation]:
    found = []
    if not request.person_id or len(request.person_id) > MAX_ID_LENGTH:
        found.append(violation("person_id", f"needs the person's id (1 to {MAX_ID_LENGTH} characters)"))
    if request.channel not in CHANNELS:
        found.append(violation("channel", "must be CONTACT_CHANNEL_EMAIL or CONTACT_CHANNEL_SMS"))
    return found


def persons_violations(person_ids: list[str]) -> list[BadRequest.FieldViolation]:
    if not 1 <= len(person_ids) <= MAX_PERSONS:
        return [violation("person_ids", f"has {len(person_ids)} ids; give 1 to {MAX_PERSONS} per request")]
    return [
        violation(f"person_ids[{index}]", f"needs a person's id (1 to {MAX_ID_LENGTH} characters)")
        for index, person_id in enumerate(person_ids)
        if not 0 < len(person_id) <= MAX_ID_LENGTH
    ]


class VaultRpcs:
    _pool: asyncpg.Pool
    _keyring: KeyRing
    _config: IdentityConfig

    async def IssueDataKeys(self, request: pb.IssueDataKeysRequest, context: Context) -> pb.IssueDataKeysResponse:
        """Only ingestion obtains keys: the scope `datakeys:issue` (checked by the envelope) is granted to it alone."""
        subjects = list(request.subjects)
        if found := subject_violations(subjects):
            raise InvalidArgument(f"{len(found)} invalid subject(s) in IssueDataKeys", found)
        keys = await self._keyring.issue(subjects)
        return pb.IssueDataKeysResponse(
            keys=[pb.DataKey(subject=s, key_id=k.key_id, secret=k.secret) for s, k in zip(subjects, keys, strict=True)]
        )

    async def GetContact(self, request: pb.GetContactRequest, context: Context) -> pb.GetContactResponse:
        if found := contact_violations(request):
            raise InvalidArgument("invalid GetContact request", found)
        channel = CHANNELS[request.channel]
        async with self._pool.acquire() as conn:
            person_id = await contacts.current_person(conn, request.person_id)
            if person_id is None:
                raise NotFound(f"person {request.person_id} is unknown", reason="PERSON_NOT_FOUND")
            subjects = await contacts.subjects_of(conn, person_id)
            contact = await contacts.deliverable(conn, self._keyring, subjects=subjects, channel=channel)
        if contact is None:
            raise NotFound(f"person {person_id} has no deliverable {channel} address", reason="CONTACT_NOT_FOUND")
        reply = pb.GetContactResponse(address=contact.address, first_name=contact.first_name)
        reply.updated_at.FromDatetime(contact.updated_at)
        return reply

    async def BatchGetContacts(
        self, request: pb.BatchGetContactsRequest, context: Context
    ) -> pb.BatchGetContactsResponse:
        asked = list(request.person_ids)
        if found := persons_violations(asked):
            raise InvalidArgument(f"invalid BatchGetContacts request: {len(found)} problem(s)", found)
        async with self._pool.acquire() as conn:
            now = await contacts.current_persons(conn, sorted(set(asked)))
            reach = await contacts.reach_of(conn, sorted(set(now.values())))
            subjects = {person: found.subjects for person, found in reach.items()}
            addresses = {} if request.devices_only else await contacts.deliverable_many(
                conn, self._keyring, subjects=subjects)  # fmt: skip
        return pb.BatchGetContactsResponse(contacts=[_contacts(a, now.get(a), reach, addresses) for a in asked])


def _contacts(
    asked: str, person: str | None, reach: dict[str, contacts.Reach], found: dict[tuple[str, str], contacts.Contact]
) -> pb.PersonContacts:
    """One person's answer: the first name goes with the newest address."""
    if person is None:
        return pb.PersonContacts(person_id=asked)
    email, phone = found.get((person, contacts.EMAIL)), found.get((person, contacts.SMS))
    newest = max((c for c in (email, phone) if c is not None), key=lambda c: c.updated_at, default=None)
    return pb.PersonContacts(
        person_id=asked, email=email.address if email else "", phone=phone.address if phone else "",
        first_name=newest.first_name if newest else "", device_ids=reach[person].device_ids,
    )  # fmt: skip
