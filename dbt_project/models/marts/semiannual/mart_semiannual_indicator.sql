{#-
  Incremental by half-year (macros/incremental_periods.sql): a changed half-year is rebuilt
  with the next one, whose change_since_previous it moves; the value of the half-year before a
  rebuilt one comes from this table when that half-year is not rebuilt itself.
-#}
{%- set rebuilt = halfyears_and_next(changed_periods(upstream=ref('fct_indicator_observation'))) %}

with observations as (
    select * from {{ ref('fct_indicator_observation') }}
    where
        period_id ~ '^[0-9]{4}S[12]$' and is_official
    {{ where_changed_period('period_id', rebuilt, 'and') }}
),

memberships as (
    select * from {{ ref('int_unit_rollup') }}
),

units as (
    select * from {{ ref('dim_unit') }}
),

indicators as (
    select * from {{ ref('dim_indicator') }}
),

-- Ratios roll up as sum(numerators) / sum(denominators), never as an average of percentages.
aggregated as (
    select
        memberships.unit_structure,
        memberships.ancestor_code as unit_code,
        observations.indicator_code,
        observations.period_id,
        sum(observations.numerator) as numerator,
        sum(observations.denominator) as denominator,
        count(distinct observations.unit_code) as reporting_units,
        max(observations.loaded_at) as last_loaded_at,
        -- One per half-year: the state of the facts it was built from.
        min(observations.load_signature) as load_signature
    from observations
    inner join memberships
        on
            observations.unit_code = memberships.member_code
            and observations.unit_structure = memberships.member_structure
    group by
        memberships.unit_structure,
        memberships.ancestor_code,
        observations.indicator_code,
        observations.period_id
),

-- A qualitative criterion is no percentage: its roll-up counts the units that achieved it.
measured as (
    select
        aggregated.*,
        indicators.is_qualitative,
        case
            when not indicators.is_qualitative
                then {{ safe_ratio('aggregated.numerator', 'aggregated.denominator') }}
        end as value
    from aggregated
    inner join indicators on aggregated.indicator_code = indicators.indicator_code
),

-- For a qualitative criterion, the units of its target level under each unit that exist in the
-- half-year: "met" needs every one of them to have achieved it.
qualitative_units as (
    {{ qualitative_units_applicable('halfyear') }}
),

-- Every value a rebuilt half-year may be compared with: its own and, on an incremental build,
-- those of the half-years just before the rebuilt ones, as this table holds them.
known_values as (
    select
        unit_structure,
        unit_code,
        indicator_code,
        period_id,
        value
    from measured
    {{ union_kept_values(previous_halfyears_not_in(rebuilt)) }}
),

assessed as (
    select
        measured.*,
        units.unit_name,
        units.unit_level,
        units.parent_code,
        indicators.target_value,
        indicators.comparator,
        qualitative_units.units_applicable,
        {{ target_applies('units.unit_level', 'indicators') }} as target_applies
    from measured
    inner join units
        on
            measured.unit_code = units.unit_code
            and measured.unit_structure = units.unit_structure
    inner join indicators on measured.indicator_code = indicators.indicator_code
    left join qualitative_units
        on
            measured.unit_structure = qualitative_units.unit_structure
            and measured.unit_code = qualitative_units.unit_code
            and measured.indicator_code = qualitative_units.indicator_code
            and measured.period_id = qualitative_units.period_id
),

-- Judged against the plan (macros/indicator_assessment.sql); `value` is rounded for display only.
final as (
    select
        assessed.unit_structure,
        assessed.unit_code,
        assessed.unit_name,
        assessed.unit_level,
        assessed.parent_code,
        assessed.indicator_code,
        assessed.period_id,
        assessed.is_qualitative,
        assessed.numerator::numeric(20, 4) as numerator,
        assessed.denominator::numeric(20, 4) as denominator,
        assessed.value,
        case when assessed.is_qualitative then assessed.numerator::integer end as units_achieved,
        assessed.units_applicable,
        {{ indicator_assessment('assessed') }},
        assessed.value - previous.value as change_since_previous,
        assessed.reporting_units::integer as reporting_units,
        assessed.last_loaded_at,
        assessed.load_signature
    from assessed
    left join known_values as previous
        on
            assessed.unit_structure = previous.unit_structure
            and assessed.unit_code = previous.unit_code
            and assessed.indicator_code = previous.indicator_code
            and {{ previous_halfyear('assessed.period_id') }} = previous.period_id
)

select * from final
