-- The coverage of every roll-up row of the marts: per structure, unit, indicator and period
-- (half-year or year), the level its figure is counted over (`coverage_level`: of the
-- indicator's levels, the one with the most units under the unit), how many units of that level
-- stand for the period under the unit (`units_at_level`) and how many of them have data
-- (`units_with_data`, directly or through their predecessors).
--
-- A unit stands for a period in its structure when it is valid on the period's Decree 09
-- cut-off, the cut-off taken within the structure's span: the before_2025 structure ends on 30
-- June 2025 (its units as they stood on that day stand for 2025S2), the from_2025 structure
-- starts on 1 July 2025 (its units stand for the half-years restated under it). So province 08
-- of the new structure counts all 124 communes, whichever half-year it restates, and a
-- department absorbed on 1 March 2025 no longer counts in 2025S1 (its figures moved to the one
-- that absorbed it, int_observations_placed).
--
-- Incremental by period (macros/incremental_periods.sql): a period is rebuilt when the facts it
-- counts change (a year's: its own and its half-years'), from those facts alone.
--
-- Hash joins only (with the nested loops that dbt_project.yml turns off for every model built by
-- period, merge joins too): the recursive roll-up's row estimates are far off, and at national
-- scale (15 million member rows) the planner merged on the unit alone and filtered indicator and
-- period per pair, which was still running after 4 minutes; hash joins take about 2.
{{ config(pre_hook="set local enable_mergejoin = off") }}
{%- set rebuilt = changed_periods(expected=coverage_signatures(ref('fct_indicator_observation'))) %}

with observations as (
    select distinct
        unit_structure,
        unit_code,
        indicator_code,
        period_id
    from {{ ref('fct_indicator_observation') }}
    -- A unit that answered "no data" reported, but has no data.
    where is_official and is_no_data is not true
    {{ where_changed_period('period_id', with_halfyears_of_years(rebuilt), 'and') }}
),

-- A year is covered by what its half-years, or the year itself, report.
observed as (
    select * from observations
    union
    select
        unit_structure,
        unit_code,
        indicator_code,
        left(period_id, 4) as period_id
    from observations
    where period_id ~ '^[0-9]{4}S[12]$'
),

memberships as (
    select * from {{ ref('int_unit_rollup') }}
),

units as (
    select * from {{ ref('dim_unit') }}
),

-- The catalogue version that applies to each period (int_indicator_periods).
indicators as (
    select * from {{ ref('int_indicator_periods') }}
),

periods as (
    select
        period_id,
        decree09_end
    from {{ ref('dim_period') }}
    -- A rebuilt year reads its half-years' facts; only the rebuilt periods are counted.
    where period_id in (select observed.period_id from observed)
    {{ where_changed_period('period_id', rebuilt, 'and') }}
),

structures as (
    select
        unit_structure,
        min(valid_from) as starts_on,
        case when bool_and(valid_to is not null) then max(valid_to) end as ends_on
    from units
    group by unit_structure
),

-- Per structure and period, the day whose units stand for the period: its cut-off, clamped to
-- the structure's span.
reference_dates as (
    select
        structures.unit_structure,
        periods.period_id,
        greatest(
            structures.starts_on,
            least(periods.decree09_end, coalesce(structures.ends_on, periods.decree09_end))
        ) as reference_date
    from structures
    cross join periods
),

standing as (
    select
        units.unit_structure,
        units.unit_code,
        units.unit_level,
        reference_dates.period_id
    from units
    inner join reference_dates on units.unit_structure = reference_dates.unit_structure
    where
        units.valid_from <= reference_dates.reference_date
        and coalesce(units.valid_to, reference_dates.reference_date) >= reference_dates.reference_date
),

-- Every unit with data for an indicator and period, from its own observations or those rolled
-- into it (predecessors, members).
units_with_data as (
    select distinct
        memberships.unit_structure,
        memberships.ancestor_code as unit_code,
        observed.indicator_code,
        observed.period_id
    from observed
    inner join memberships
        on
            observed.unit_code = memberships.member_code
            and observed.unit_structure = memberships.member_structure
    {{ where_changed_period('observed.period_id', rebuilt) }}
),

counted as (
    select
        memberships.unit_structure,
        memberships.ancestor_code as unit_code,
        indicators.indicator_code,
        standing.period_id,
        standing.unit_level as coverage_level,
        count(*)::integer as units_at_level,
        count(units_with_data.unit_code)::integer as units_with_data
    from memberships
    inner join standing
        on
            memberships.member_code = standing.unit_code
            and memberships.member_structure = standing.unit_structure
            and memberships.unit_structure = standing.unit_structure
    inner join indicators
        on
            standing.period_id = indicators.period_id
            and standing.unit_level = any(indicators.applicable_levels)
    left join units_with_data
        on
            memberships.unit_structure = units_with_data.unit_structure
            and memberships.member_code = units_with_data.unit_code
            and indicators.indicator_code = units_with_data.indicator_code
            and standing.period_id = units_with_data.period_id
    group by
        memberships.unit_structure,
        memberships.ancestor_code,
        indicators.indicator_code,
        standing.period_id,
        standing.unit_level
),

ranked as (
    select
        counted.*,
        row_number() over (
            partition by counted.unit_structure, counted.unit_code, counted.indicator_code, counted.period_id
            order by
                counted.units_at_level desc,
                array_position(array['commune', 'district', 'department', 'province'], counted.coverage_level)
        ) as level_rank
    from counted
),

signatures as (
    {{ coverage_signatures(ref('fct_indicator_observation')) }}
),

final as (
    select
        ranked.unit_structure,
        ranked.unit_code,
        ranked.indicator_code,
        ranked.period_id,
        ranked.coverage_level,
        ranked.units_at_level,
        ranked.units_with_data,
        signatures.load_signature
    from ranked
    inner join signatures on ranked.period_id = signatures.period_id
    where ranked.level_rank = 1
    {{ where_changed_period('ranked.period_id', rebuilt, 'and') }}
)

select * from final
