-- The portal answers per calendar month (it offers month, quarter and year, no half-year): the
-- raw batch of a period holds one record per agency and requested month. A period is assembled
-- here from its months: counts of what happened (received, completed, on time, overdue) are
-- summed; the average processing days is recomputed, weighted by the dossiers completed in each
-- month; the portal's ratio is left out (the marts compute every ratio from its parts) and its
-- score is recomputed from the summed counts (Decision 766/QD-TTg: 20 x on time / received).
-- The window is the calendar months, not Decree 09's (see window_start / window_end).
with source as (
    select * from {{ source('raw', 'portal_dvc_progress') }}
),

current_batch as (
    {{ current_batch('portal_dvc_progress') }}
),

monthly as (
    select
        source.batch_id,
        source.period_id,
        source.department_code,
        source.department_id,
        source.department_name,
        make_date(source.request_year::integer, source.request_month::integer, 1) as month_start,
        source.total_received,
        source.total_completed,
        source.total_on_time,
        source.total_overdue,
        source.avg_processing_days,
        source.max_score,
        current_batch.loaded_at
    from source
    inner join current_batch on source.batch_id = current_batch.batch_id
    -- Batches of earlier releases asked for a half-year the portal does not offer: not read.
    where source.request_time_type = 'month'
),

-- The agency's name and id as the portal gave them in the last month it answered.
last_month as (
    select distinct on (period_id, department_code)
        period_id,
        department_code,
        department_id,
        department_name
    from monthly
    order by period_id asc, department_code asc, month_start desc
),

assembled as (
    select
        period_id,
        department_code,
        max(batch_id) as batch_id,
        sum(total_received) as dossiers_received,
        sum(total_completed) as dossiers_completed,
        sum(total_on_time) as dossiers_on_time,
        sum(total_overdue) as dossiers_overdue,
        sum(avg_processing_days * total_completed) / nullif(sum(total_completed), 0) as avg_processing_days,
        max(max_score) as progress_max_score,
        count(*) as months_reported,
        min(month_start) as window_start,
        (max(month_start) + interval '1 month' - interval '1 day')::date as window_end,
        max(loaded_at) as loaded_at
    from monthly
    group by period_id, department_code
),

final as (
    select
        assembled.batch_id,
        assembled.period_id,
        assembled.department_code as source_unit_id,
        last_month.department_id as portal_department_id,
        last_month.department_name,
        assembled.dossiers_received::bigint as dossiers_received,
        assembled.dossiers_completed::bigint as dossiers_completed,
        assembled.dossiers_on_time::bigint as dossiers_on_time,
        assembled.dossiers_overdue::bigint as dossiers_overdue,
        assembled.avg_processing_days::numeric(10, 2) as avg_processing_days,
        (20.0 * assembled.dossiers_on_time / nullif(assembled.dossiers_received, 0))::numeric(10, 2)
            as progress_score,
        assembled.progress_max_score::numeric(10, 2) as progress_max_score,
        assembled.months_reported::integer as months_reported,
        assembled.window_start,
        assembled.window_end,
        'calendar_months' as window_basis,
        assembled.loaded_at
    from assembled
    inner join last_month
        on
            assembled.period_id = last_month.period_id
            and assembled.department_code = last_month.department_code
)

select * from final
