{#-
  The batch of `dataset` that staging reads (the latest loaded one per period), with its load
  time: the body of a staging model's `current_batch` CTE.
-#}
{% macro current_batch(dataset) -%}
    select
        batch_id,
        loaded_at
    from {{ ref('stg_raw__load_batch') }}
    where dataset = '{{ dataset }}'
{%- endmacro %}
