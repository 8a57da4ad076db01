"""Message templates: personalized from the person's data, and nothing else reachable."""

from __future__ import annotations

import pytest
from bullseye_campaign.domain.templates import RenderError, TemplateError, TemplateLimits, Templates

PERSON = {
    "person_id": "p-1",
    "traits": {"first_name": "Ann", "country": "FR", "custom": {"tier": "gold"}},
    "tags": ["high_value", "night_owl"],
    "items": [{"title": "Chef knife", "price": 89.5}, {"title": "Whetstone", "price": 25}],
}


@pytest.fixture
def templates() -> Templates:
    return Templates(TemplateLimits(max_output=2_000, max_loop_iterations=100, max_assigned=1_000))


def test_personalizes_from_traits_tags_and_recommended_items(templates: Templates) -> None:
    source = (
        "Hi {{ traits.first_name }} ({{ traits.custom.tier }})!"
        "{% if tags contains 'high_value' %} VIP{% endif %}"
        "{% for item in items %} | {{ item.title }} {{ item.price }}{% endfor %}"
    )
    rendered = templates.render(templates.compile(source), PERSON)
    assert rendered == "Hi Ann (gold)! VIP | Chef knife 89.5 | Whetstone 25"


def test_a_missing_trait_renders_empty_so_default_can_fill_it(templates: Templates) -> None:
    compiled = templates.compile("Hi {{ traits.last_name | default: 'there' }}{{ traits.city }}")
    assert templates.render(compiled, PERSON) == "Hi there"


def test_python_internals_are_unreachable(templates: Templates) -> None:
    source = "{{ traits.__class__ }}{{ traits.first_name.__class__.__mro__ }}{{ items.__len__ }}{{ traits.keys }}"
    assert templates.render(templates.compile(source), PERSON) == ""


@pytest.mark.parametrize("tag", ["{% include 'secrets.txt' %}", "{% render '/etc/passwd' %}"])
def test_no_other_template_or_file_can_be_loaded(templates: Templates, tag: str) -> None:
    with pytest.raises(TemplateError, match="unexpected tag"):
        templates.compile(tag)


def test_a_syntax_error_reports_its_line_and_column(templates: Templates) -> None:
    problem = templates.check("Hello,\n  {{ traits.first_name | }}")
    assert problem is not None
    assert (problem.line, problem.column) == (2, 26)
    assert "expected" in problem.message


def test_an_unclosed_block_points_at_the_end_of_the_template(templates: Templates) -> None:
    problem = templates.check("Hi\n{% if tags %}yes")
    assert problem is not None
    assert (problem.line, problem.column) == (2, 17)
    assert "endif" in problem.message


def test_an_unknown_variable_is_refused_with_its_position(templates: Templates) -> None:
    problem = templates.check("Hi\n  {{ trait.first_name }}")
    assert problem is not None
    assert (problem.line, problem.column, "unknown variable 'trait'" in problem.message) == (2, 6, True)


def test_an_unknown_filter_is_refused_with_its_position(templates: Templates) -> None:
    problem = templates.check("{{ traits.first_name | shout }}")
    assert problem is not None
    assert (problem.line, problem.column) == (1, 24)
    assert "unknown filter 'shout'" in problem.message


def test_loop_iterations_are_bounded(templates: Templates) -> None:
    compiled = templates.compile("{% for i in (1..1000000) %}{% for j in (1..1000000) %}{% endfor %}{% endfor %}")
    with pytest.raises(RenderError, match="loop iteration limit"):
        templates.render(compiled, PERSON)


def test_output_size_is_bounded(templates: Templates) -> None:
    compiled = templates.compile("{{ traits.bio }}{{ traits.bio }}")
    assert templates.render(compiled, {"traits": {"bio": "b" * 1_000}}) == "b" * 2_000
    with pytest.raises(RenderError, match="output stream limit"):
        templates.render(compiled, {"traits": {"bio": "b" * 1_001}})


def test_assigned_data_cannot_double_without_bound(templates: Templates) -> None:
    source = "{% assign s = 'xxxxxxxx' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}"
    with pytest.raises(RenderError, match="local namespace limit"):
        templates.render(templates.compile(source), PERSON)


@pytest.mark.parametrize(
    "source",
    ["{{ traits.bio | split: '' | join: traits.bio }}", "{{ traits.bio | replace: '', traits.bio }}"],
    ids=["join", "replace"],
)
def test_quadratic_filters_refuse_before_building_a_huge_string(templates: Templates, source: str) -> None:
    person = {**PERSON, "traits": {"bio": "b" * 1_000}}
    with pytest.raises(RenderError, match="would produce"):
        templates.render(templates.compile(source), person)


def test_join_and_replace_still_work_within_bounds(templates: Templates) -> None:
    compiled = templates.compile("{{ tags | join: ', ' }} {{ traits.country | replace: 'FR', 'France' }}")
    assert templates.render(compiled, PERSON) == "high_value, night_owl France"


def test_an_overlong_template_is_refused() -> None:
    with pytest.raises(TemplateError, match="at most 10 characters"):
        Templates(TemplateLimits(max_source=10)).compile("{{ traits.first_name }}")
