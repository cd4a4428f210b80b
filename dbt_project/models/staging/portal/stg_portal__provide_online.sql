-- The portal answers per calendar month (it offers month, quarter and year, no half-year): the
-- raw batch of a period holds one record per agency and requested month. A period is assembled
-- here from its months: the services offered (online, fully online, partly online) are a state,
-- taken from the last month the agency answered in the period; the online dossiers (all, on
-- time, overdue) are counts of what happened, summed over the months. The window is the calendar
-- months, not Decree 09's (see window_start / window_end).
with source as (
    select * from {{ source('raw', 'portal_provide_online') }}
),

current_batch as (
    {{ current_batch('portal_provide_online') }}
),

monthly as (
    select
        source.batch_id,
        source.period_id,
        source.department_code,
        source.department_id,
        source.department_name,
        make_date(source.request_year::integer, source.request_month::integer, 1) as month_start,
        source.online_service_total,
        source.full_count,
        source.partial_count,
        source.online_dossier_count,
        source.online_on_time_sum,
        source.online_overdue_sum,
        current_batch.loaded_at
    from source
    inner join current_batch on source.batch_id = current_batch.batch_id
    -- Batches of earlier releases asked for a half-year the portal does not offer: not read.
    where source.request_time_type = 'month'
),

-- States: as the portal gave them for the last month the agency answered in the period.
last_month as (
    select distinct on (period_id, department_code)
        period_id,
        department_code,
        department_id,
        department_name,
        online_service_total,
        full_count,
        partial_count
    from monthly
    order by period_id asc, department_code asc, month_start desc
),

flows as (
    select
        period_id,
        department_code,
        max(batch_id) as batch_id,
        sum(online_dossier_count) as dossiers_online,
        sum(online_on_time_sum) as dossiers_online_on_time,
        sum(online_overdue_sum) as dossiers_online_overdue,
        count(*) as months_reported,
        min(month_start) as window_start,
        (max(month_start) + interval '1 month' - interval '1 day')::date as window_end,
        max(loaded_at) as loaded_at
    from monthly
    group by period_id, department_code
),

final as (
    select
        flows.batch_id,
        flows.period_id,
        flows.department_code as source_unit_id,
        last_month.department_id as portal_department_id,
        last_month.department_name,
        last_month.online_service_total::bigint as services_online,
        last_month.full_count::bigint as services_fully_online,
        last_month.partial_count::bigint as services_partly_online,
        flows.dossiers_online::bigint as dossiers_online,
        flows.dossiers_online_on_time::bigint as dossiers_online_on_time,
        flows.dossiers_online_overdue::bigint as dossiers_online_overdue,
        flows.months_reported::integer as months_reported,
        flows.window_start,
        flows.window_end,
        'calendar_months' as window_basis,
        flows.loaded_at
    from flows
    inner join last_month
        on
            flows.period_id = last_month.period_id
            and flows.department_code = last_month.department_code
)

select * from final
