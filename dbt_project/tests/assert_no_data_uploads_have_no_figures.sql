-- A unit's "no data" answer (issue 14) carries no figure: never a 0/0 that looks like a report.
select
    batch_id,
    unit_code,
    indicator_code,
    numerator,
    denominator,
    value
from {{ ref('stg_uploads__observations') }}
where is_no_data and (numerator is not null or denominator is not null or value is not null)
