{#-
  Incremental by half-year (configured in dbt_project.yml, macros/incremental_periods.sql): the
  half-years whose loads or reference data changed are rebuilt.
-#}
{%- set periods = changed_periods() %}

with observations as (
    select * from {{ ref('int_observations_unpivoted') }}
    {{ where_changed_period('period_id', periods) }}
),

signatures as (
    {{ period_load_signatures() }}
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

-- Only observations at a level the indicator applies to: the same dossier measure is the
-- department indicator for departments and the commune indicator for communes.
applicable as (
    select
        crosswalk.unit_code,
        units.unit_structure,
        observations.indicator_code,
        observations.period_id,
        observations.source_system,
        observations.source_unit_id,
        observations.numerator,
        observations.denominator,
        observations.batch_id,
        observations.loaded_at,
        precedence.source_kind,
        precedence.precedence
    from observations
    inner join crosswalk
        on
            observations.source_system = crosswalk.source
            and observations.source_unit_id = crosswalk.source_unit_id
    inner join units
        on
            crosswalk.unit_code = units.unit_code
            and crosswalk.unit_valid_from = units.valid_from
    inner join indicators on observations.indicator_code = indicators.indicator_code
    inner join precedence on observations.source_system = precedence.source_system
    where units.unit_level = any(indicators.applicable_levels)
),

-- Precedence when sources disagree: system-measured before self-reported (lower precedence
-- number first), then the most recently loaded. Losing values stay here with is_official false.
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
        row_number() over (
            partition by unit_code, unit_structure, indicator_code, period_id
            order by precedence asc, loaded_at desc, source_system asc
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
