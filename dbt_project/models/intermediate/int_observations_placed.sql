-- One row per source observation of an indicator at a level it applies to: the unit version it
-- is for, how many days of the period's Decree 09 window that unit existed, and where it goes.
-- `mapped`: the figure counts towards the unit's primary successor (unit_succession), a unit of
-- the same level that exists in the period, when
--   * the period starts after the unit's end (a source still reporting a merged commune), or
--   * the unit ended inside the window, before its cut-off, and its successor is of the same
--     structure (a department merged into another on 1 March 2025, Decree 45/2025): the part of
--     the half-year before the merger rolls forward into the department that carries on.
-- `kept`: otherwise, when the unit existed for at least one day of the window (a legacy commune's
-- 15-30 June 2025 in 2025S2 stays its own: the new structure reaches it through int_unit_rollup).
-- `refused` otherwise, with the reason; a refused observation never reaches the facts
-- (fct_refused_observation). A state at the cut-off (year_basis year_end) from a unit that ceased
-- before the cut-off is refused too (state_after_unit_end): the state is its successor's.
with recursive observations as (
    select * from {{ ref('int_observations_unpivoted') }}
),

crosswalk as (
    select * from {{ ref('unit_crosswalk') }}
),

units as (
    select * from {{ ref('dim_unit') }}
),

indicators as (
    select * from {{ ref('dim_indicator') }}
),

precedence as (
    select * from {{ ref('source_precedence') }}
),

periods as (
    select * from {{ ref('dim_period') }}
),

succession as (
    select * from {{ ref('unit_succession') }}
    where is_primary
),

-- Only observations at a level the indicator applies to: the same dossier measure is the
-- department indicator for departments and the commune indicator for communes.
located as (
    select
        observations.source_system,
        observations.source_unit_id,
        observations.indicator_code,
        observations.period_id,
        observations.numerator,
        observations.denominator,
        observations.batch_id,
        observations.loaded_at,
        observations.is_no_data,
        precedence.source_kind,
        precedence.precedence,
        units.unit_code,
        units.unit_structure,
        units.unit_level,
        units.valid_from,
        units.valid_to,
        indicators.applicable_levels,
        indicators.year_basis,
        periods.decree09_start,
        periods.decree09_end,
        periods.decree09_end - periods.decree09_start + 1 as period_days,
        {{ unit_days_in_period(
            'units.valid_from', 'units.valid_to', 'periods.decree09_start', 'periods.decree09_end'
        ) }} as unit_days_in_period
    from observations
    inner join crosswalk
        on
            observations.source_system = crosswalk.source
            and observations.source_unit_id = crosswalk.source_unit_id
    inner join units
        on
            crosswalk.unit_code = units.unit_code
            and crosswalk.unit_valid_from = units.valid_from
    inner join precedence on observations.source_system = precedence.source_system
    left join periods on observations.period_id = periods.period_id
    -- The catalogue version that applies to the period (macros/catalogue_version.sql).
    inner join indicators
        on
            observations.indicator_code = indicators.indicator_code
            and {{ catalogue_version_applies('indicators', 'periods.decree09_end') }}
    where units.unit_level = any(indicators.applicable_levels)
),

-- Every unit version's successors, following the primary successions (the version valid on
-- each succession's date): Sở TT&TT -> Sở KH&CN (1 March 2025) -> the new province's Sở KH&CN
-- (1 July 2025). Only units of the same level: a district's successor is the province, and a
-- district's figure is not the province's.
successor_chain as (
    select
        units.unit_code as old_code,
        units.valid_from as old_valid_from,
        successor.unit_code,
        successor.unit_structure,
        successor.unit_level,
        successor.valid_from,
        successor.valid_to,
        1 as hops
    from units
    inner join succession
        on
            units.unit_code = succession.old_code
            and units.valid_to + 1 = succession.effective_date
    inner join units as successor
        on
            succession.new_code = successor.unit_code
            and succession.effective_date >= successor.valid_from
            and coalesce(successor.valid_to, succession.effective_date) >= succession.effective_date
            and units.unit_level = successor.unit_level

    union all

    select
        successor_chain.old_code,
        successor_chain.old_valid_from,
        successor.unit_code,
        successor.unit_structure,
        successor.unit_level,
        successor.valid_from,
        successor.valid_to,
        successor_chain.hops + 1 as hops
    from successor_chain
    inner join succession
        on
            successor_chain.unit_code = succession.old_code
            and successor_chain.valid_to + 1 = succession.effective_date
    inner join units as successor
        on
            succession.new_code = successor.unit_code
            and succession.effective_date >= successor.valid_from
            and coalesce(successor.valid_to, succession.effective_date) >= succession.effective_date
            and successor_chain.unit_level = successor.unit_level
),

-- For a unit that ended before the period's cut-off, its first successor that exists in the
-- period: a merged commune's figures count towards the new commune, a merged body's towards
-- the body that absorbed it (or, a year later, the new province's body that one became).
with_successor as (
    select
        located.*,
        located.decree09_start > located.valid_to as ended_before_period,
        successor.unit_code as successor_code,
        successor.unit_structure as successor_structure,
        successor.successor_days_in_period,
        successor.unit_code is not null
        and successor.unit_structure = located.unit_structure
        and coalesce(successor.valid_to, located.decree09_end) >= located.decree09_end as rolls_forward
    from located
    left join lateral (
        select
            successor_chain.*,
            {{ unit_days_in_period(
                'successor_chain.valid_from', 'successor_chain.valid_to',
                'located.decree09_start', 'located.decree09_end'
            ) }} as successor_days_in_period
        from successor_chain
        where
            successor_chain.old_code = located.unit_code
            and successor_chain.old_valid_from = located.valid_from
            and located.decree09_end > located.valid_to
            and {{ unit_days_in_period(
                'successor_chain.valid_from', 'successor_chain.valid_to',
                'located.decree09_start', 'located.decree09_end'
            ) }} > 0
        order by successor_chain.hops
        limit 1
    ) as successor on true
),

placed as (
    select
        *,
        case
            when decree09_start is null then 'unknown_period'
            -- A state (year_basis year_end: services online, systems connected) is the one at the
            -- cut-off: a unit that existed in the window but ceased before it has none to give,
            -- its successor reports the state (and adding both would count it twice).
            when year_basis = 'year_end' and unit_days_in_period > 0 and valid_to < decree09_end
                then 'state_after_unit_end'
            when unit_days_in_period > 0 then null
            when decree09_end < valid_from then 'before_unit_start'
            when successor_days_in_period > 0 then null
            else 'after_unit_end'
        end as refusal_reason,
        coalesce((unit_days_in_period = 0 or rolls_forward) and successor_days_in_period > 0, false)
            as to_successor
    from with_successor
),

targeted as (
    select
        source_system,
        source_unit_id,
        source_kind,
        precedence,
        indicator_code,
        period_id,
        numerator,
        denominator,
        batch_id,
        loaded_at,
        is_no_data,
        unit_code as source_unit_code,
        unit_structure as source_unit_structure,
        refusal_reason,
        refusal_reason is null and to_successor as is_mapped,
        ended_before_period,
        case when refusal_reason is null and to_successor then successor_code else unit_code end as unit_code,
        case
            when refusal_reason is null and to_successor then successor_structure else unit_structure
        end as unit_structure,
        case
            when refusal_reason is null and to_successor then successor_days_in_period
            else unit_days_in_period
        end as unit_days_in_period,
        period_days
    from placed
),

-- A successor that a source reports under its own code for a period that starts after its
-- predecessor ended: that figure is the successor's, and the predecessor's from the same source
-- would count twice. (A predecessor that existed in part of the window reports that part.)
checked as (
    select
        *,
        is_mapped and ended_before_period and bool_or(not is_mapped and refusal_reason is null) over (
            partition by unit_code, unit_structure, indicator_code, period_id, source_system
        ) as successor_reported
    from targeted
),

final as (
    select
        source_system,
        source_unit_id,
        source_kind,
        precedence,
        indicator_code,
        period_id,
        numerator,
        denominator,
        batch_id,
        loaded_at,
        is_no_data,
        source_unit_code,
        source_unit_structure,
        unit_code,
        unit_structure,
        unit_days_in_period,
        period_days,
        case
            when refusal_reason is not null or successor_reported then 'refused'
            when is_mapped then 'mapped'
            else 'kept'
        end as placement,
        case when successor_reported then 'successor_reported' else refusal_reason end as refusal_reason
    from checked
)

select * from final
