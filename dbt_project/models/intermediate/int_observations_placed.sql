-- One row per source observation of an indicator at a level it applies to: the unit version it
-- is for, how many days of the period's Decree 09 window that unit existed, and where it goes.
-- `kept`: the unit existed for at least one day of the window. `mapped`: the period starts
-- after the unit's end and its primary successor (unit_succession) is a unit of the same level
-- that exists in the period: the figure counts towards that successor. `refused` otherwise,
-- with the reason; a refused observation never reaches the facts (fct_refused_observation).
with observations as (
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
        precedence.source_kind,
        precedence.precedence,
        units.unit_code,
        units.unit_structure,
        units.unit_level,
        units.valid_from,
        units.valid_to,
        indicators.applicable_levels,
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

-- The primary successor of a unit that ended before the period, when it is a unit of the same
-- level that exists in the period: a merged commune's figures count towards the new commune.
-- A district's successor is the province: a district's figure is not the province's, so it is
-- refused rather than mapped.
with_successor as (
    select
        located.*,
        successor.unit_code as successor_code,
        successor.unit_structure as successor_structure,
        case
            when successor.unit_code is not null
                then {{ unit_days_in_period(
                'successor.valid_from', 'successor.valid_to', 'located.decree09_start', 'located.decree09_end'
            ) }}
        end as successor_days_in_period
    from located
    left join succession
        on
            located.unit_code = succession.old_code
            and located.valid_to + 1 = succession.effective_date
            and located.decree09_start > located.valid_to
    left join units as successor
        on
            succession.new_code = successor.unit_code
            and succession.effective_date = successor.valid_from
            and located.unit_level = successor.unit_level
),

placed as (
    select
        *,
        case
            when decree09_start is null then 'unknown_period'
            when unit_days_in_period > 0 then null
            when decree09_end < valid_from then 'before_unit_start'
            when successor_days_in_period > 0 then null
            else 'after_unit_end'
        end as refusal_reason
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
        unit_code as source_unit_code,
        unit_structure as source_unit_structure,
        refusal_reason,
        refusal_reason is null and unit_days_in_period = 0 as is_mapped,
        case
            when refusal_reason is null and unit_days_in_period = 0 then successor_code else unit_code
        end as unit_code,
        case
            when refusal_reason is null and unit_days_in_period = 0 then successor_structure
            else unit_structure
        end as unit_structure,
        case
            when refusal_reason is null and unit_days_in_period = 0 then successor_days_in_period
            else unit_days_in_period
        end as unit_days_in_period,
        period_days
    from placed
),

-- A successor that a source reports under its own code: that figure is the successor's, and
-- its predecessors' figures from the same source would count twice.
checked as (
    select
        *,
        is_mapped and bool_or(not is_mapped and refusal_reason is null) over (
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
