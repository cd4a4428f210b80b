with bounds as (
    select * from {{ ref('date_spine_bounds') }}
),

days as (
    select generate_series(bounds.first_day, bounds.last_day, interval '1 day')::date as date_day
    from bounds
),

final as (
    select
        date_day,
        {{ period_id('date_day', 'month', 'calendar') }} as calendar_month_id,
        {{ period_id('date_day', 'quarter', 'calendar') }} as calendar_quarter_id,
        {{ period_id('date_day', 'halfyear', 'calendar') }} as calendar_halfyear_id,
        {{ period_id('date_day', 'year', 'calendar') }} as calendar_year_id,
        {{ period_id('date_day', 'month', 'decree09') }} as decree09_month_id,
        {{ period_id('date_day', 'quarter', 'decree09') }} as decree09_quarter_id,
        {{ period_id('date_day', 'halfyear', 'decree09') }} as decree09_halfyear_id,
        {{ period_id('date_day', 'year', 'decree09') }} as decree09_year_id
    from days
)

select * from final
