{#- Percentage numerator / denominator, null when the denominator is zero or missing. -#}
{% macro safe_ratio(numerator, denominator, scale=2) -%}
    round(100.0 * ({{ numerator }})::numeric / nullif({{ denominator }}, 0), {{ scale }})
{%- endmacro %}
