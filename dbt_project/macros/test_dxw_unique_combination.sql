{#- Generic test: the combination of `columns` is unique (no dbt Hub packages offline). -#}
{% test dxw_unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
