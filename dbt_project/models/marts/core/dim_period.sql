with days as (
    select * from {{ ref('dim_date') }}
),

by_convention as (
    select
        calendar_month_id as period_id,
        'month' as period_type,
        'calendar' as convention,
        date_day
    from days

    union all

    select
        decree09_month_id as period_id,
        'month' as period_type,
        'decree09' as convention,
        date_day
    from days

    union all

    select
        calendar_quarter_id as period_id,
        'quarter' as period_type,
        'calendar' as convention,
        date_day
    from days

    union all

    select
        decree09_quarter_id as period_id,
        'quarter' as period_type,
        'decree09' as convention,
        date_day
    from days

    union all

    select
        calendar_halfyear_id as period_id,
        'halfyear' as period_type,
        'calendar' as convention,
        date_day
    from days

    union all

    select
        decree09_halfyear_id as period_id,
        'halfyear' as period_type,
        'decree09' as convention,
        date_day
    from days

    union all

    select
        calendar_year_id as period_id,
        'year' as period_type,
        'calendar' as convention,
        date_day
    from days

    union all

    select
        decree09_year_id as period_id,
        'year' as period_type,
        'decree09' as convention,
        date_day
    from days
),

windows as (
    select
        period_id,
        period_type,
        min(date_day) filter (where convention = 'calendar') as calendar_start,
        max(date_day) filter (where convention = 'calendar') as calendar_end,
        min(date_day) filter (where convention = 'decree09') as decree09_start,
        max(date_day) filter (where convention = 'decree09') as decree09_end
    from by_convention
    group by period_id, period_type
),

spine as (
    select
        min(date_day) as first_day,
        max(date_day) as last_day
    from days
),

-- Periods cut by the edges of the date spine have incomplete windows: leave them out.
final as (
    select windows.*
    from windows
    cross join spine
    where
        windows.calendar_start > spine.first_day
        and windows.decree09_start > spine.first_day
        and windows.calendar_end < spine.last_day
        and windows.decree09_end < spine.last_day
)

select * from final
