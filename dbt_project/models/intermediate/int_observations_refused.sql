-- The refused observations of int_observations_placed, stored by half-year so that what reads
-- them (fct_refused_observation, its tests, the report's quality annex) reads a small table
-- instead of placing every observation again: nationally that placement is millions of rows
-- whose row estimates lead the planner into nested loops (a test on the former view ran for
-- over 10 minutes). Built like the facts (macros/incremental_periods.sql): only the half-years
-- whose loads or reference data changed are placed again, with hash joins.
--
-- A half-year with no refusal keeps one row with is_refusal false and only its period_id and
-- load_signature: the incremental build compares the signatures the table holds with the
-- loads', and a half-year it held no row of would be placed again on every build.
{%- set periods = changed_periods() %}

with refused as (
    select * from {{ ref('int_observations_placed') }}
    where placement = 'refused'
    {{ where_changed_period('period_id', periods, 'and') }}
),

signatures as (
    {{ period_load_signatures() }}
),

final as (
    select
        refused.source_system,
        refused.source_unit_id,
        refused.source_unit_code as unit_code,
        refused.source_unit_structure as unit_structure,
        refused.indicator_code,
        signatures.period_id,
        refused.refusal_reason,
        refused.numerator,
        refused.denominator,
        refused.batch_id,
        refused.loaded_at,
        refused.period_id is not null as is_refusal,
        signatures.load_signature
    from signatures
    left join refused on signatures.period_id = refused.period_id
    {{ where_changed_period('signatures.period_id', periods) }}
)

select * from final
