"""Request checks: INVALID_ARGUMENT with a google.rpc.BadRequest violation per bad field,
each naming the limit it breaks; then the requests as the serving code takes them."""

from __future__ import annotations

from collections.abc import Sequence

from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_platform.grpc.errors import InvalidArgument, violation
from google.rpc.error_details_pb2 import BadRequest

from bullseye_recommendation.serving.asks import Ask, Filters

MAX_K = 100
MAX_CANDIDATES = 1000
MAX_SESSION = 50
MAX_ID = 256  # an item id, as the catalog accepts them
MAX_PERSON_ID = 128
MAX_PAGE = 100
Violations = list[BadRequest.FieldViolation]
NO_FILTERS = Filters()


def _raise(problems: Violations) -> None:
    if problems:
        raise InvalidArgument("; ".join(f"{p.field}: {p.description}" for p in problems), problems)


def k_problems(k: int) -> Violations:
    if not 1 <= k <= MAX_K:
        return [violation("k", f"must be between 1 and {MAX_K}, not {k}")]
    return []


def ids_problems(field: str, values: Sequence[str], *, most: int) -> Violations:
    problems = [violation(field, f"at most {most} items, not {len(values)}")] if len(values) > most else []
    return problems + [
        violation(f"{field}[{n}]", f"an item id of 1 to {MAX_ID} characters")
        for n, value in enumerate(values[:most])
        if not 0 < len(value) <= MAX_ID
    ]


def person_problems(request: pb.RecommendRequest) -> Violations:
    which = request.WhichOneof("person")
    if which is None:
        return [violation("person", "required: set person_id or identifier")]
    if which == "person_id" and len(request.person_id) > MAX_PERSON_ID:
        return [violation("person_id", f"at most {MAX_PERSON_ID} characters")]
    if which == "person_id" and not request.person_id:
        return [violation("person_id", "required: a person id")]
    problems = []
    if which == "identifier" and request.identifier.type == 0:
        problems.append(violation("identifier.type", "required: the kind of identifier (user_id, email, ...)"))
    if which == "identifier" and not request.identifier.value:
        problems.append(violation("identifier.value", "required: the identifier's value"))
    return problems


def recommend_ask(request: pb.RecommendRequest, variants: Sequence[str]) -> Ask:
    """Raises: InvalidArgument naming every bad field."""
    context = request.context
    problems = person_problems(request) + k_problems(request.k)
    problems += ids_problems("candidate_item_ids", request.candidate_item_ids, most=MAX_CANDIDATES)
    problems += ids_problems("context.session_item_ids", context.session_item_ids, most=MAX_SESSION)
    if len(context.current_item_id) > MAX_ID:
        problems.append(violation("context.current_item_id", f"at most {MAX_ID} characters"))
    if request.variant and request.variant not in variants:
        problems.append(violation("variant", f"unknown variant; the variants are {', '.join(variants)}"))
    _raise(problems)
    return Ask(
        k=request.k, placement=context.placement, channel=context.channel, current_item=context.current_item_id,
        category=context.category, session=tuple(context.session_item_ids), filters=filters(request.filters),
        candidates=tuple(request.candidate_item_ids),
    )  # fmt: skip


def filters(given: pb.Filters) -> Filters:
    if given.ByteSize() == 0:
        return NO_FILTERS  # what most calls send: the defaults, without reading each field
    return Filters(
        exclude_purchased=given.exclude_purchased if given.HasField("exclude_purchased") else True,
        exclude_out_of_stock=given.exclude_out_of_stock if given.HasField("exclude_out_of_stock") else True,
        items=tuple(given.exclude_item_ids),
        categories=tuple(given.exclude_categories),
    )


def check_similar(request: pb.SimilarItemsRequest) -> None:
    problems = k_problems(request.k)
    if not 0 < len(request.item_id) <= MAX_ID:
        problems.insert(0, violation("item_id", f"required: an item id of 1 to {MAX_ID} characters"))
    _raise(problems)


def check_popular(request: pb.PopularRequest) -> None:
    _raise(k_problems(request.k))


def page(request: pb.ListModelsRequest) -> tuple[int, int]:
    """(page size, versions to skip) of a ListModels request."""
    problems = []
    if not 0 <= request.page_size <= MAX_PAGE:
        problems.append(violation("page_size", f"must be between 0 (the default, 20) and {MAX_PAGE}"))
    if request.page_token and not (request.page_token.isascii() and request.page_token.isdigit()):  # '²' is a digit
        problems.append(violation("page_token", "not a token this service gave (next_page_token)"))
    _raise(problems)
    return request.page_size or 20, int(request.page_token or 0)


def check_publish(request: pb.PublishModelRequest) -> None:
    if not request.version:
        _raise([violation("version", "required: a registered version (ListModels lists them)")])


def check_report(request: pb.GetExperimentReportRequest) -> None:
    both = request.HasField("from") and request.HasField("to")
    if both and getattr(request, "from").ToDatetime() >= request.to.ToDatetime():
        _raise([violation("to", "must be after `from`")])
