{#- Whether value meets target under the indicator's comparator ('>' strict or '>='). -#}
{% macro meets_target(value, target, comparator) -%}
    case
        when {{ value }} is null or {{ target }} is null then null
        when {{ comparator }} = '>' then {{ value }} > {{ target }}
        else {{ value }} >= {{ target }}
    end
{%- endmacro %}
