{#-
  Versions of the reviewed catalogues (seeds indicators.csv and award_rules.csv). A plan is data:
  a new plan (the successor province's 2026-2030 plan after Plan 86) adds rows under its own
  catalogue_version with its own valid_from, and never edits the rows of the plan before it.
  A row is a version of its key (an indicator code; an award and unit level) valid from its
  valid_from until the day before the key's next version.

  Which version applies to a period is decided here and nowhere else: the version valid on the
  last day of the period's Decree 09 window (decree09_end, its reporting cut-off), because a
  plan's targets are levels to reach by the cut-off a unit reports on. A half-year straddling a
  plan's start is judged by the new plan: 2026S1 (15 Dec 2025 - 14 Jun 2026) by a plan valid from
  1 January 2026, 2025S2 (cut-off 14 Dec 2025) still by Plan 86. Before a key's first version the
  key does not exist (no indicator, no rule), as the upload forms have it. dxw/catalogue_versions.py
  applies the same rule to the seeds for the upload forms and the reports.
-#}

{#- valid_to: the day before the key's next version (null for its latest), for a select from a
    catalogue seed. -#}
{% macro catalogue_valid_to(key_columns) -%}
    (lead(valid_from) over (partition by {{ key_columns | join(', ') }} order by valid_from) - 1)::date
{%- endmacro %}


{#- Whether catalogue `version` (a relation with valid_from and valid_to) applies to a period
    whose Decree 09 window ends on `period_end`. A period dim_period does not know (null end;
    refused downstream) reads the latest version. -#}
{% macro catalogue_version_applies(version, period_end) -%}
    (
        {{ version }}.valid_from <= coalesce({{ period_end }}, 'infinity'::date)
        and coalesce({{ version }}.valid_to, 'infinity'::date) >= coalesce({{ period_end }}, 'infinity'::date)
    )
{%- endmacro %}
