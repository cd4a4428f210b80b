{#- Incremental by half-year, following fct_indicator_observation (macros/incremental_periods.sql). -#}
{%- set rebuilt = changed_periods(upstream=ref('fct_indicator_observation')) %}

with observations as (
    select * from {{ ref('fct_indicator_observation') }}
    where
        period_id ~ '^[0-9]{4}S[12]$'
    {{ where_changed_period('period_id', rebuilt, 'and') }}
),

submissions as (
    select * from {{ ref('int_unit_submissions') }}
    {{ where_changed_period('period_id', rebuilt) }}
),

units as (
    select * from {{ ref('dim_unit') }}
),

-- The catalogue version that applies to each period (int_indicator_periods).
indicators as (
    select * from {{ ref('int_indicator_periods') }}
),

periods as (
    select * from {{ ref('dim_period') }}
),

-- Who reports (Plan 86 VI.6) and by when (an assumption: the plan sets no deadline).
schedule as (
    select * from {{ ref('reporting_deadlines') }}
    where reports
),

reported_periods as (
    select
        period_id,
        min(load_signature) as load_signature
    from observations
    group by period_id
),

-- The units with the duty in each half-year: provincial departments, agencies and mass
-- organisations and the districts of the plan's province (vars dxw_plan_province_*), that exist on
-- the half-year's cut-off day (districts ended on 30 June 2025). Communes and the province have
-- no duty and are not listed; nor have the former Tuyên Quang's units towards Hà Giang's plan.
duty as (
    select
        units.unit_code,
        units.unit_name,
        units.unit_level,
        units.unit_type,
        reported_periods.period_id,
        reported_periods.load_signature,
        schedule.plan_ref,
        periods.decree09_end as cutoff_date,
        (periods.decree09_end + schedule.days_after_cutoff)::date as deadline,
        schedule.deadline_assumption
    from reported_periods
    inner join periods on reported_periods.period_id = periods.period_id
    inner join schedule on periods.period_type = schedule.period_type
    inner join units
        on
            schedule.unit_level = units.unit_level
            and schedule.unit_type = units.unit_type
            and periods.decree09_end >= units.valid_from
            and (units.valid_to is null or periods.decree09_end <= units.valid_to)
    where
        units.province_code = case units.unit_structure
            when 'before_2025' then '{{ var("dxw_plan_province_before_2025") }}'
            when 'from_2025' then '{{ var("dxw_plan_province_from_2025") }}'
        end
),

own_reports as (
    select
        duty.unit_code,
        duty.period_id,
        string_agg(submissions.channel, ',' order by submissions.channel) as channels,
        min(submissions.submitted_at) as submitted_at,
        string_agg(submissions.submitted_at_basis, ',' order by submissions.channel) as submitted_at_basis,
        count(submissions.submitted_at) as timed
    from duty
    inner join submissions
        on duty.unit_code = submissions.unit_code and duty.period_id = submissions.period_id
    group by duty.unit_code, duty.period_id
),

-- Completeness counts the indicators the unit reports itself (uploads, reporting system) that
-- its report measured; an indicator it answered "no data" for is not measured, and is counted
-- apart (submitted without a figure: the official row is the "no data" answer only when no
-- source has a figure, fct_indicator_observation).
measured as (
    select
        duty.unit_code,
        duty.period_id,
        count(distinct indicators.indicator_code)::integer as indicators_applicable,
        count(distinct observations.indicator_code) filter (
            where observations.numerator is not null
        )::integer as indicators_reported,
        count(distinct observations.indicator_code) filter (
            where observations.is_no_data and observations.is_official
        )::integer as indicators_without_figure
    from duty
    inner join indicators
        on
            duty.unit_level = any(indicators.applicable_levels)
            and duty.period_id = indicators.period_id
            and indicators.primary_source in ('unit_upload', 'reporting_system')
    left join observations
        on
            duty.unit_code = observations.unit_code
            and duty.period_id = observations.period_id
            and indicators.indicator_code = observations.indicator_code
            and observations.source_system in ('unit_upload', 'reporting_system')
            and (observations.numerator is not null or observations.is_no_data)
    group by duty.unit_code, duty.period_id
),

final as (
    select
        duty.unit_code,
        duty.unit_name,
        duty.unit_level,
        duty.period_id,
        duty.plan_ref,
        own_reports.unit_code is not null as submitted,
        own_reports.channels,
        coalesce(measured.indicators_applicable, 0) as indicators_applicable,
        coalesce(measured.indicators_reported, 0) as indicators_reported,
        coalesce(measured.indicators_without_figure, 0) as indicators_without_figure,
        case
            when measured.indicators_applicable > 0
                then round(100.0 * measured.indicators_reported / measured.indicators_applicable, 2)
        end as completeness,
        duty.cutoff_date,
        duty.deadline,
        duty.deadline_assumption,
        own_reports.submitted_at,
        own_reports.submitted_at_basis,
        -- In the province's time zone: 23:59 on the deadline day in Hà Giang is still on time.
        case
            when own_reports.timed > 0
                then
                    (own_reports.submitted_at at time zone '{{ var("dxw_timezone") }}')::date
                    <= duty.deadline
        end as on_time,
        case
            when own_reports.unit_code is null then 'missing'
            when own_reports.timed = 0 then 'time_not_recorded'
            when (own_reports.submitted_at at time zone '{{ var("dxw_timezone") }}')::date <= duty.deadline
                then 'on_time'
            else 'late'
        end as status,
        duty.load_signature
    from duty
    left join own_reports on duty.unit_code = own_reports.unit_code and duty.period_id = own_reports.period_id
    left join measured on duty.unit_code = measured.unit_code and duty.period_id = measured.period_id
)

select * from final
