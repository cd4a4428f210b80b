{#-
  Incremental by half-year (configured in dbt_project.yml, macros/incremental_periods.sql): the
  half-years whose loads or reference data changed are rebuilt.
-#}
{%- set periods = changed_periods() %}

with counted as (
    select * from {{ ref('int_observations_placed') }}
    where placement != 'refused'
    {{ where_changed_period('period_id', periods, 'and') }}
),

-- A figure mapped to a unit that reports the period itself (a department absorbed on 1 March
-- 2025: its part of 2025S1 rolls forward into the one that absorbed it) adds to that unit's own
-- row; two kept figures of one unit from one source stay two rows, and the uniqueness test fails.
placed as (
    select
        *,
        coalesce(
            case when placement = 'kept' then source_unit_id end,
            min(case when placement = 'kept' then source_unit_id end) over (
                partition by unit_code, unit_structure, indicator_code, period_id, source_system
            )
        ) as kept_group
    from counted
),

signatures as (
    {{ period_load_signatures() }}
),

-- One row per unit and source: the predecessors of a merged commune mapped to it add up
-- (int_observations_placed); a kept observation stays its own row, grouped by its source unit,
-- with the figures rolled forward into it.
applicable as (
    select
        unit_code,
        unit_structure,
        indicator_code,
        period_id,
        source_system,
        source_kind,
        precedence,
        string_agg(source_unit_id, ',' order by source_unit_id) as source_unit_id,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        max(batch_id) as batch_id,
        max(loaded_at) as loaded_at,
        -- Reported without a figure: every part said "no data" (a figure beside it counts alone).
        bool_and(is_no_data) as is_no_data,
        bool_or(placement = 'mapped') as is_mapped,
        min(unit_days_in_period) as unit_days_in_period,
        min(period_days) as period_days
    from placed
    group by
        unit_code,
        unit_structure,
        indicator_code,
        period_id,
        source_system,
        source_kind,
        precedence,
        kept_group
),

-- Precedence when sources disagree: a figure before a "no data" answer, then system-measured
-- before self-reported (lower precedence number first), then the most recently loaded. Losing
-- values stay here with is_official false.
ranked as (
    select
        unit_code,
        unit_structure,
        indicator_code,
        period_id,
        source_system,
        source_kind,
        source_unit_id,
        numerator,
        denominator,
        {{ safe_ratio('numerator', 'denominator') }} as value,
        batch_id,
        loaded_at,
        is_no_data,
        is_mapped,
        unit_days_in_period,
        unit_days_in_period = period_days as covers_whole_period,
        row_number() over (
            partition by unit_code, unit_structure, indicator_code, period_id
            order by is_no_data asc, precedence asc, loaded_at desc, source_system asc
        ) = 1 as is_official
    from applicable
),

final as (
    select
        ranked.*,
        signatures.load_signature
    from ranked
    inner join signatures on ranked.period_id = signatures.period_id
)

select * from final
