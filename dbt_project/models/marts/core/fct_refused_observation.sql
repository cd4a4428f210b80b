{#-
  A view over int_observations_refused, where the refusals are stored by half-year: without
  that table's one row per half-year that has none.
-#}
{{ config(materialized='view') }}

with refused as (
    select * from {{ ref('int_observations_refused') }}
),

final as (
    select
        source_system,
        source_unit_id,
        unit_code,
        unit_structure,
        indicator_code,
        period_id,
        refusal_reason,
        numerator,
        denominator,
        batch_id,
        loaded_at
    from refused
    where is_refusal
)

select * from final
