{#-
  Which window a source's figure for a period really covers (window_basis):

  * 'calendar_months': the public-service portal. Its reporting API offers calendar months,
    quarters and years only, so a half-year is assembled from January-June or July-December and
    a year is the calendar year (staging/portal). Decree 09's H1 (15 Dec - 14 Jun, 182 days; 183
    in a leap year) shares 165 days (166) with January-June: it misses 15-31 December, adds
    15-30 June. H2 (15 Jun - 14 Dec, 183 days) shares 167 with July-December: it misses 15-30
    June, adds 15-31 December. The year (15 Dec - 14 Dec) shares 348 of 365 days (349 of 366).
  * 'decree09': every other source reports for the period's Decree 09 window.

  window_basis_start / _end: the first and last day of that window for a row of dim_period
  (its calendar_* and decree09_* columns); a roll-up mixing both bases ('mixed') spans both.
-#}
{% macro window_basis(source_system) -%}
    case when {{ source_system }} = 'public_service_portal' then 'calendar_months' else 'decree09' end
{%- endmacro %}

{% macro combined_window_basis(lowest, highest) -%}
    case when {{ lowest }} = {{ highest }} then {{ lowest }} else 'mixed' end
{%- endmacro %}

{% macro window_basis_start(basis, periods) -%}
    case {{ basis }}
        when 'calendar_months' then {{ periods }}.calendar_start
        when 'decree09' then {{ periods }}.decree09_start
        else least({{ periods }}.calendar_start, {{ periods }}.decree09_start)
    end
{%- endmacro %}

{% macro window_basis_end(basis, periods) -%}
    case {{ basis }}
        when 'calendar_months' then {{ periods }}.calendar_end
        when 'decree09' then {{ periods }}.decree09_end
        else greatest({{ periods }}.calendar_end, {{ periods }}.decree09_end)
    end
{%- endmacro %}
