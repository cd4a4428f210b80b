{#- Days of the window [window_start, window_end] on which a unit version valid from `valid_from`
    to `valid_to` (null: still valid) existed; 0 when the two do not overlap, null without a
    window. Both ends inclusive. (least/greatest skip nulls, hence the case.) -#}
{% macro unit_days_in_period(valid_from, valid_to, window_start, window_end) -%}
    case
        when {{ window_start }} is not null and {{ window_end }} is not null
            then greatest(
                0,
                least(coalesce({{ valid_to }}, {{ window_end }}), {{ window_end }})
                - greatest({{ valid_from }}, {{ window_start }}) + 1
            )
    end
{%- endmacro %}
