{#-
  Whether numerator / denominator meets a percentage target under the comparator ('>' strict or
  '>='), on the exact ratio: 100 x numerator is compared with target x denominator, so 15999/20000
  (79.995 %) does not meet 80 % although it displays as 80.00. Null without a target or a ratio.
-#}
{% macro meets_target(numerator, denominator, target, comparator) -%}
    case
        when
            {{ numerator }} is null or {{ target }} is null
            or {{ denominator }} is null or {{ denominator }} = 0
            then null
        when {{ comparator }} = '>' then 100 * ({{ numerator }}) > ({{ target }}) * ({{ denominator }})
        else 100 * ({{ numerator }}) >= ({{ target }}) * ({{ denominator }})
    end
{%- endmacro %}

{#-
  numerator / denominator with 30 decimal places, for ordering: two ratios of counts below 10^15
  that differ at all differ in these digits, so ranks tie only on exactly equal ratios (a
  percentage rounded for display would tie 60.000 % with 59.997 %).
-#}
{% macro exact_ratio(numerator, denominator) -%}
    ({{ numerator }})::numeric(60, 30) / nullif({{ denominator }}, 0)
{%- endmacro %}
