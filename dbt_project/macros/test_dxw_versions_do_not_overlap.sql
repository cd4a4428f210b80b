{#- Generic test: the versions of one key (rows with valid_from and a nullable, inclusive
    valid_to) never overlap, so one version is in force on any day. Two versions with the same
    valid_from are the unique-combination test's to catch. -#}
{% test dxw_versions_do_not_overlap(model, key_columns) %}
    select
        {% for column in key_columns %}earlier.{{ column }}, {% endfor %}
        earlier.valid_from as earlier_from,
        earlier.valid_to as earlier_to,
        later.valid_from as later_from
    from {{ model }} as earlier
    inner join {{ model }} as later
        on
            {% for column in key_columns %}earlier.{{ column }} = later.{{ column }} and {% endfor %}
            earlier.valid_from < later.valid_from
            and coalesce(earlier.valid_to, 'infinity'::date) >= later.valid_from
{% endtest %}
