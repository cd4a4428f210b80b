{#-
  How a rolled-up figure is judged against Plan 86, for every grain of the marts (half-year and
  year). `rel` is a relation with the measured roll-up (numerator, denominator, is_qualitative,
  unit_level, unit_structure, indicator_code, period_id), the catalogue's target_value and
  comparator, `target_applies` (see target_applies()) and, for qualitative criteria,
  units_applicable.
-#}

{#- Whether the plan's target applies to a row: at the unit's own level (target_levels), or, for a
    qualitative criterion, to every unit of its level below it (a province meets it when all its
    districts do); and only to a unit that has not ceased before the period's cut-off (`units`
    and `periods` name the unit and period relations): a district's 15-30 June 2025 in 2025S2 is
    no half-year to judge it on, and from 1 July 2025 there are no district targets. A unit of
    the new structure is judged on the half-years restated under it. Elsewhere the ratio is
    monitoring: no target, no "not met". -#}
{% macro target_applies(units, indicators, periods) -%}
    (
        {{ units }}.unit_level = any({{ indicators }}.target_levels)
        or ({{ indicators }}.is_qualitative and cardinality({{ indicators }}.target_levels) > 0)
    )
    and ({{ units }}.valid_to is null or {{ units }}.valid_to >= {{ periods }}.decree09_end)
{%- endmacro %}


{#- target_value, comparator, target_met, gap_to_target and rank_in_level: targets are compared,
    and units ranked, on the exact ratio; a qualitative criterion is met when every applicable
    unit achieved it, and has no gap or rank. -#}
{% macro indicator_assessment(rel) -%}
    case when {{ rel }}.target_applies then {{ rel }}.target_value end as target_value,
    case when {{ rel }}.target_applies then {{ rel }}.comparator end as comparator,
    case
        when {{ rel }}.is_qualitative
            then {{ rel }}.numerator = {{ rel }}.units_applicable
        when {{ rel }}.target_applies
            then {{ meets_target(
                rel ~ '.numerator', rel ~ '.denominator', rel ~ '.target_value', rel ~ '.comparator'
            ) }}
    end as target_met,
    case
        when {{ rel }}.target_applies and not {{ rel }}.is_qualitative
            then round(
                100.0 * {{ rel }}.numerator / nullif({{ rel }}.denominator, 0) - {{ rel }}.target_value, 2
            )
    end as gap_to_target,
    case
        -- A row without a figure ("no data" answers, no eligible-services entry) is not ranked.
        when not {{ rel }}.is_qualitative and {{ rel }}.denominator is not null
            then rank() over (
                partition by
                    {{ rel }}.unit_structure,
                    {{ rel }}.indicator_code,
                    {{ rel }}.period_id,
                    {{ rel }}.unit_level
                order by {{ exact_ratio(rel ~ '.numerator', rel ~ '.denominator') }} desc nulls last
            )::integer
    end as rank_in_level
{%- endmacro %}


{#- For qualitative criteria: per structure, unit, indicator and period of `period_type`, the
    units of the criterion's target level under the unit that exist in the period (the "n" of
    "k of n units achieved"). Needs CTEs memberships, units, indicators (int_indicator_periods). -#}
{% macro qualitative_units_applicable(period_type) -%}
    select
        memberships.unit_structure,
        memberships.ancestor_code as unit_code,
        indicators.indicator_code,
        periods.period_id,
        count(distinct members.unit_code)::integer as units_applicable
    from memberships
    inner join units as members
        on
            memberships.member_code = members.unit_code
            and memberships.member_structure = members.unit_structure
    inner join indicators
        on
            indicators.is_qualitative
            and members.unit_level = any(indicators.target_levels)
    inner join {{ ref('dim_period') }} as periods
        on
            periods.period_type = '{{ period_type }}'
            and indicators.period_id = periods.period_id
            and members.valid_from <= periods.decree09_end
            and (members.valid_to is null or members.valid_to >= periods.decree09_start)
    group by
        memberships.unit_structure, memberships.ancestor_code, indicators.indicator_code, periods.period_id
{%- endmacro %}
