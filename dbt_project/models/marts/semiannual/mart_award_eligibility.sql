{#-
  Plan 86 IV.3 at three grains. The summary award for 2021-2025 (plan_period) is what the Board
  decides; a half-year's list is a monitoring view ("on track"), a year's a view for the annual
  commendations of III.6 and V. Only a unit that exists at the evaluated period's cut-off can be
  a candidate: no district for 2025S2 or the year 2025, no 2025 commune before 2025S2.
  The summary award reads the half-years as published, each after its own gate (Plan 86 rules
  are judged on gated figures only); none before the first publish.
-#}
{%- set published = source('published', 'halfyears_as_published') %}
{%- set published_exists = existing_relation(published) %}

with halfyear_figures as (
    select * from {{ ref('mart_semiannual_indicator') }}
),

year_figures as (
    select * from {{ ref('mart_annual_indicator') }}
),

published_halfyears as (
    {%- if published_exists %}
        select
            unit_structure,
            unit_code,
            unit_name,
            unit_level,
            parent_code,
            indicator_code,
            period_id,
            numerator,
            denominator,
            last_loaded_at
        from {{ published }}
    {%- else %}
        select
            null::text as unit_structure,
            null::text as unit_code,
            null::text as unit_name,
            null::text as unit_level,
            null::text as parent_code,
            null::text as indicator_code,
            null::text as period_id,
            null::numeric as numerator,
            null::numeric as denominator,
            null::timestamptz as last_loaded_at
        where false
    {%- endif %}
),

-- Versions of the rules (macros/catalogue_version.sql): a new plan adds its own rows.
rules as (
    select
        *,
        {{ catalogue_valid_to(['award_code', 'unit_level']) }} as valid_to
    from {{ ref('award_rules') }}
),

units as (
    select * from {{ ref('dim_unit') }}
),

periods as (
    select * from {{ ref('dim_period') }}
),

-- Plan 86 III.4 pilots: units of the pre-2025 structure (dim_pilot_unit).
pilots as (
    select
        unit_structure,
        unit_code,
        pilot_level
    from {{ ref('dim_pilot_unit') }}
    where unit_key is not null
),

-- Every figure a rule can read, with whether its unit exists at the period's Decree 09 cut-off:
-- the unit the figures are judged for must exist when they are (the 2025S2 window, 15 Jun - 14
-- Dec 2025, straddles the 1 July reorganisation: its units are the new communes).
figures as (
    {%- for grain, relation in [
        ('halfyear', 'halfyear_figures'),
        ('year', 'year_figures'),
        ('published_halfyear', 'published_halfyears'),
    ] %}
        select
            '{{ grain }}' as grain,
            period_id,
            period_id as evaluated_from,
            period_id as evaluated_to,
            unit_structure,
            unit_code,
            unit_name,
            unit_level,
            parent_code,
            indicator_code,
            numerator,
            denominator,
            last_loaded_at
        from {{ relation }}
        {{- "\n        union all" if not loop.last }}
    {%- endfor %}
),

with_existence as (
    select
        figures.*,
        periods.decree09_end as period_end,
        units.valid_from <= periods.decree09_end
        and (units.valid_to is null or units.valid_to >= periods.decree09_end) as unit_exists_at_period_end
    from figures
    inner join units
        on
            figures.unit_code = units.unit_code
            and figures.unit_structure = units.unit_structure
    inner join periods on figures.period_id = periods.period_id
),

-- The plan period: the rule's half-years at whose cut-off the unit existed, combined as the
-- rule's basis says (award_rules.plan_basis): cumulative = sum of numerators over sum of
-- denominators, last_halfyear = the last such half-year's ratio.
plan_halfyears as (
    select
        with_existence.*,
        rules.award_code,
        rules.plan_basis,
        rules.plan_period_to,
        rules.valid_from as rule_valid_from,
        row_number() over (
            partition by
                rules.award_code,
                rules.unit_level,
                rules.valid_from,
                with_existence.unit_structure,
                with_existence.unit_code
            order by with_existence.period_id desc
        ) as recency
    from with_existence
    inner join rules
        on
            with_existence.indicator_code = rules.indicator_code
            and with_existence.unit_level = rules.unit_level
    where
        with_existence.grain = 'published_halfyear'
        and with_existence.unit_exists_at_period_end
        and with_existence.period_id between rules.plan_period_from and rules.plan_period_to
),

plan_period as (
    select
        award_code,
        'plan_period' as grain,
        left(plan_period_to, 4) as period_id,
        min(period_id) as evaluated_from,
        max(period_id) as evaluated_to,
        unit_structure,
        unit_code,
        unit_name,
        unit_level,
        parent_code,
        indicator_code,
        case
            when min(plan_basis) = 'last_halfyear' then sum(numerator) filter (where recency = 1)
            else sum(numerator)
        end as numerator,
        case
            when min(plan_basis) = 'last_halfyear' then sum(denominator) filter (where recency = 1)
            else sum(denominator)
        end as denominator,
        max(last_loaded_at) as last_loaded_at,
        true as unit_exists_at_period_end,
        max(period_end) as period_end,
        rule_valid_from
    from plan_halfyears
    group by
        award_code,
        rule_valid_from,
        left(plan_period_to, 4),
        unit_structure,
        unit_code,
        unit_name,
        unit_level,
        parent_code,
        indicator_code
),

-- A plan-period row belongs to its own award and rule version; the half-year and year rows to
-- every rule, in the version that applies to their period.
candidates as (
    {%- set candidate_columns -%}
        grain, period_id, evaluated_from, evaluated_to, unit_structure, unit_code, unit_name,
        unit_level, parent_code, indicator_code, numerator, denominator, last_loaded_at,
        unit_exists_at_period_end, period_end
    {%- endset %}
    select
        null::text as award_code,
        null::date as rule_valid_from,
        {{ candidate_columns }}
    from with_existence
    where grain in ('halfyear', 'year')
    union all
    select
        award_code,
        rule_valid_from,
        {{ candidate_columns }}
    from plan_period
),

evaluated as (
    select
        rules.award_code,
        rules.award_name_vi,
        candidates.grain,
        case candidates.grain
            when 'plan_period' then rules.plan_basis
            when 'year' then 'year_ratio'
            else 'halfyear_ratio'
        end as basis,
        candidates.evaluated_from,
        candidates.evaluated_to,
        rules.unit_level,
        candidates.unit_structure,
        candidates.unit_code,
        candidates.unit_name,
        candidates.parent_code,
        candidates.period_id,
        rules.indicator_code,
        {{ safe_ratio('candidates.numerator', 'candidates.denominator') }} as value,
        candidates.numerator,
        candidates.denominator,
        rules.comparator,
        rules.threshold,
        candidates.unit_exists_at_period_end,
        {{ meets_target(
            'candidates.numerator', 'candidates.denominator', 'rules.threshold', 'rules.comparator'
        ) }} as meets_threshold,
        round(
            100.0 * candidates.numerator / nullif(candidates.denominator, 0) - rules.threshold,
            2
        ) as margin,
        {{ exact_ratio('candidates.numerator', 'candidates.denominator') }} as exact_ratio,
        candidates.last_loaded_at,
        rules.board_condition_vi,
        rules.candidates_note,
        rules.plan_ref,
        pilots.pilot_level
    from rules
    inner join candidates
        on
            rules.indicator_code = candidates.indicator_code
            and rules.unit_level = candidates.unit_level
            and (
                (
                    candidates.award_code is null
                    and {{ catalogue_version_applies('rules', 'candidates.period_end') }}
                )
                or (
                    rules.award_code = candidates.award_code
                    and rules.valid_from = candidates.rule_valid_from
                )
            )
    left join pilots
        on
            candidates.unit_code = pilots.unit_code
            and candidates.unit_structure = pilots.unit_structure
),

final as (
    select
        award_code,
        award_name_vi,
        grain,
        case grain
            when 'plan_period' then 'award'
            when 'year' then 'annual_view'
            else 'monitoring'
        end as purpose,
        basis,
        evaluated_from,
        evaluated_to,
        unit_level,
        unit_structure,
        unit_code,
        unit_name,
        parent_code,
        period_id,
        indicator_code,
        value,
        numerator,
        denominator,
        comparator,
        threshold,
        unit_exists_at_period_end,
        coalesce(meets_threshold and unit_exists_at_period_end, false) as eligible,
        margin,
        case
            when meets_threshold and unit_exists_at_period_end
                then rank() over (
                    partition by
                        award_code,
                        grain,
                        unit_structure,
                        unit_level,
                        period_id,
                        meets_threshold and unit_exists_at_period_end
                    order by exact_ratio desc
                )::integer
        end as candidate_rank,
        board_condition_vi,
        candidates_note,
        plan_ref,
        last_loaded_at,
        pilot_level
    from evaluated
)

select * from final
