{#-
  The period id (2025S1, 2025Q2, 202506, 2025) of a date under a convention; the SQL twin of
  dxw.periods.period_of. decree09: after the 14th a day counts towards the next month
  (Decree 09/2019/ND-CP cut-off), so 15 June is already in the second half-year.
-#}
{% macro period_id(day, kind, convention) -%}
    {%- set shifted -%}
        {%- if convention == 'decree09' -%}
            (case when extract(day from {{ day }}) > 14 then ({{ day }} + interval '1 month') else {{ day }} end)
        {%- else -%}
            ({{ day }})
        {%- endif -%}
    {%- endset -%}
    {%- if kind == 'year' -%}
        to_char({{ shifted }}, 'YYYY')
    {%- elif kind == 'halfyear' -%}
        to_char({{ shifted }}, 'YYYY') || 'S' || (case when extract(month from {{ shifted }}) <= 6 then 1 else 2 end)
    {%- elif kind == 'quarter' -%}
        to_char({{ shifted }}, 'YYYY') || 'Q' || extract(quarter from {{ shifted }})::int
    {%- else -%}
        to_char({{ shifted }}, 'YYYYMM')
    {%- endif -%}
{%- endmacro %}
