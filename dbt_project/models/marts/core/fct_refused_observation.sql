{#-
  A view: refusals are rare and read for one half-year at a time (the quality annex, the
  warn-level test), so the half-year filter reaches the staging views and nothing is stored.
-#}
{{ config(materialized='view') }}

with placed as (
    select * from {{ ref('int_observations_placed') }}
),

final as (
    select
        source_system,
        source_unit_id,
        source_unit_code as unit_code,
        source_unit_structure as unit_structure,
        indicator_code,
        period_id,
        refusal_reason,
        numerator,
        denominator,
        batch_id,
        loaded_at
    from placed
    where placement = 'refused'
)

select * from final
