with indicator_figures as (
    select * from {{ ref('mart_semiannual_indicator') }}
),

units as (
    select * from {{ ref('dim_unit') }}
),

indicators as (
    select * from {{ ref('dim_indicator') }}
),

periods as (
    select distinct period_id from indicator_figures
),

-- Every indicator with a plan target that applies to the unit's level, for every half-year.
applicable as (
    select
        units.unit_structure,
        units.unit_code,
        units.unit_name,
        units.unit_level,
        periods.period_id,
        indicators.indicator_code
    from units
    cross join periods
    inner join indicators
        on
            units.unit_level = any(indicators.applicable_levels)
            and indicators.target_value is not null
),

scored as (
    select
        applicable.unit_structure,
        applicable.unit_code,
        applicable.unit_name,
        applicable.unit_level,
        applicable.period_id,
        count(*)::integer as indicators_applicable,
        count(indicator_figures.value)::integer as indicators_measured,
        count(*) filter (where indicator_figures.target_met)::integer as indicators_met,
        round(avg(indicator_figures.gap_to_target), 2) as mean_gap_to_target
    from applicable
    left join indicator_figures
        on
            applicable.unit_code = indicator_figures.unit_code
            and applicable.unit_structure = indicator_figures.unit_structure
            and applicable.indicator_code = indicator_figures.indicator_code
            and applicable.period_id = indicator_figures.period_id
    group by
        applicable.unit_structure,
        applicable.unit_code,
        applicable.unit_name,
        applicable.unit_level,
        applicable.period_id
),

final as (
    select
        unit_structure,
        unit_code,
        unit_name,
        unit_level,
        period_id,
        indicators_applicable,
        indicators_measured,
        indicators_met,
        round(100.0 * indicators_met / indicators_applicable, 2) as share_met,
        mean_gap_to_target,
        rank() over (
            partition by unit_structure, unit_level, period_id
            order by indicators_met desc, mean_gap_to_target desc nulls last
        )::integer as standing_in_level
    from scored
    where indicators_measured > 0
)

select * from final
