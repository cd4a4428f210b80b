-- Jinja control flow; the SQL it emits is linted in the models it lands in.
-- noqa: disable=all
{#-
  Incremental builds by half-year.

  A fact or mart row of period P depends on the batches loaded for P, on the reference data
  (every seed) and on how the figures are computed (var `dxw_transform_version`). `period_load_signatures()` names that state, per
  period, as one bigint; a model stores it in its `load_signature` column. On an incremental
  run, `changed_periods()` lists the periods whose signature moved (a new or re-delivered
  batch, a changed catalogue) or that the model does not hold yet, and the model rebuilds
  exactly those (delete+insert on period_id). The list is rendered as literals, so PostgreSQL
  pushes it into the staging views: only the changed half-years are read. A row of
  mart_semiannual_indicator also depends on the previous half-year as published in `marts`
  (change_since_previous compares with gated figures only): see
  `signatures_with_published_previous()`.
-#}

{#- Rows of (period_id, load_signature): the half-year's loaded batches, every seed's content and
    the transform version (var `dxw_transform_version`, raised by a release that changes how
    figures are computed, so that every half-year is rebuilt). The seeds are those of dbt's graph,
    so a new seed counts without being named here. Models resolve the tables with ref() and
    source(), which records them as parents; tests (`by_graph`) look them up in the graph, since a
    test may not acquire parents at run time. -#}
{% macro period_load_signatures(by_graph=false) -%}
    {%- set references = [] -%}
    {%- if by_graph -%}
        {%- set ledger = _graph_relation('source.' ~ project_name ~ '.raw_ledger.load_batch') -%}
        {%- for seed in _project_seeds() -%}
            {%- do references.append(_graph_relation(seed.unique_id)) -%}
        {%- endfor -%}
    {%- else -%}
        {%- set ledger = source('raw_ledger', 'load_batch') -%}
        {%- for seed in _signature_parents() -%}
            {%- do references.append(ref(seed)) -%}
        {%- endfor -%}
    {%- endif -%}
    select
        ledger.period_id,
        hashtextextended(
            string_agg(ledger.batch_id::text, ',' order by ledger.batch_id)
            || '|{{ var("dxw_transform_version") }}|' || (
                select md5(string_agg(reference_row, E'\n' order by reference_row))
                from (
                    {%- for reference in references %}
                    select reference_table::text as reference_row from {{ reference }} as reference_table
                    {{- "\n                    union all" if not loop.last }}
                    {%- endfor %}
                ) as reference_rows
            ),
            0
        ) as load_signature
    from {{ ledger }} as ledger
    where ledger.status = 'loaded'
    group by ledger.period_id
{%- endmacro %}


{#- Every seed of the project, from dbt's graph (empty while dbt parses the project). -#}
{% macro _project_seeds() -%}
    {{ return(graph.nodes.values()
        | selectattr('resource_type', 'equalto', 'seed')
        | selectattr('package_name', 'equalto', project_name)
        | sort(attribute='unique_id') | list) }}
{%- endmacro %}


{#- The seeds a model's signature ref()s: its parents in dbt's DAG, so that every seed is loaded
    before the signature reads it (a changed seed rebuilds its half-years in the same build). dbt
    records ref()s while it parses, before its graph exists, so these are named here; when the
    model runs, a seed of the graph missing from the list fails the build instead of being left
    out of the signature. (The graph is also empty in a dbt unit test: nothing to check there.) -#}
{% macro _signature_parents() -%}
    {%- set parents = [
        'award_rules', 'date_spine_bounds', 'dhis2_data_elements', 'eligible_online_services',
        'indicators', 'pilot_units', 'reporting_deadlines', 'source_precedence', 'unit_crosswalk',
        'unit_succession', 'units',
    ] -%}
    {%- if not execute or not graph.get('nodes') -%}
        {{ return(parents) }}
    {%- endif -%}
    {%- set seeds = _project_seeds() | map(attribute='name') | list -%}
    {%- set missing = seeds | reject('in', parents) | list -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            "seed(s) " ~ missing | join(', ') ~ " not among the parents of the half-year signature: add "
            ~ "them to _signature_parents() in macros/incremental_periods.sql, or a change to them "
            ~ "would rebuild nothing") }}
    {%- endif -%}
    {{ return(seeds) }}
{%- endmacro %}


{% macro _graph_relation(unique_id) -%}
    {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
    {{ return(api.Relation.create(
        database=node.database, schema=node.schema, identifier=node.identifier or node.alias
    )) }}
{%- endmacro %}


{#- The half-years whose rows in `relation` no longer match `expected` (rows of period_id and
    load_signature: the loads for the fact table, the fact table for a mart), or that it does not
    hold yet; none (all of them) on a full refresh or before the relation's first build. -#}
{% macro periods_to_build(relation, expected=none) -%}
    {%- if not execute or flags.FULL_REFRESH or relation is none -%}
        {{ return(none) }}
    {%- endif -%}
    {#- Built by a release without signatures: rebuilt whole, and the column is added. -#}
    {%- if not has_signatures(relation) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        with expected as (
            {{ expected or period_load_signatures() }}
        ),

        built as (
            {{ signatures_of(relation) }}
        )

        select expected.period_id
        from expected
        left join built on expected.period_id = built.period_id
        where built.load_signature is distinct from expected.load_signature
        order by 1
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{%- endmacro %}


{#- The distinct (period_id, load_signature) of an incremental model, read by skipping through
    its index (signature_index()): a dozen index probes instead of scanning millions of rows. -#}
{% macro signatures_of(relation) -%}
    select period_id, load_signature from (
        with recursive signatures as (
            (
                select period_id, load_signature from {{ relation }}
                order by period_id, load_signature limit 1
            )
            union all
            select following.period_id, following.load_signature
            from signatures
            cross join lateral (
                select period_id, load_signature from {{ relation }}
                where (period_id, load_signature) > (signatures.period_id, signatures.load_signature)
                order by period_id, load_signature limit 1
            ) as following
        )
        select * from signatures
    ) as signatures_of
{%- endmacro %}


{#- The post-hook of every model built by half-year. -#}
{% macro signature_index() -%}
    create index if not exists {{ this.identifier }}__period_signature on {{ this }} (period_id, load_signature)
{%- endmacro %}


{#- In an incremental model: the half-years to rebuild, or none on a full build. A model built
    from another incremental one (`upstream`) follows that model's signatures, or the rows of
    (period_id, load_signature) of the query `expected`. -#}
{% macro changed_periods(upstream=none, expected=none) -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set expected = expected or (none if upstream is none else signatures_of(upstream)) -%}
    {{ return(periods_to_build(this, expected)) }}
{%- endmacro %}


{#- Scoping tests to the half-years that changed. Tests run before the models built from what
    they test, so the half-years a downstream model is about to rebuild are the ones that changed
    in the tested relation; the other half-years were tested when they were built and have not
    changed since (their signatures say so). A full build tests everything.

    `column` is a half-year the next build of `downstream` rebuilds: from the loads for the fact
    table (the default), from the tested `relation` for a model built from it, whose signatures
    it stores as they are (int_unit_coverage the facts' for a half-year, mart_unit_scorecard
    mart_semiannual_indicator's; not mart_semiannual_indicator, whose signatures also carry the
    published previous half-year's, so that every half-year would differ). `downstream` is a
    child of the tested relation built by the same DAG (transform_warehouse builds the core,
    semiannual_marts the marts): dbt builds it only once the tests passed, so a half-year stays
    to be tested until they do. -#}
{% macro periods_to_build_condition(column, downstream='fct_indicator_observation', relation=none) -%}
    {%- if not execute -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set node = graph.nodes['model.' ~ project_name ~ '.' ~ downstream] -%}
    {%- set expected = period_load_signatures(by_graph=true) if relation is none else signatures_of(relation) -%}
    {%- set periods = periods_to_build(adapter.get_relation(node.database, node.schema, node.alias), expected) -%}
    {{ return('true' if periods is none else period_in(column, periods)) }}
{%- endmacro %}


{#- dbt's test filter, with the placeholders a test's `where` may use:
    `__periods_to_build__` (the half-years the fact table's next build reads) and
    `__periods_to_build__:<model>` (the half-years <model>, built from the tested relation,
    is about to rebuild). -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where') or '' -%}
    {%- set placeholder = modules.re.search('__periods_to_build__(?::(\\w+))?', where) -%}
    {%- if placeholder -%}
        {%- set condition = periods_to_build_condition('period_id') if not placeholder.group(1) else
            periods_to_build_condition('period_id', placeholder.group(1), relation) -%}
        {%- set where = where | replace(placeholder.group(0), condition) -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{% macro period_in(column, periods) -%}
    {{ column }} in (
        {%- for period in periods %}'{{ period }}'{{ ", " if not loop.last }}{% endfor -%}
        {%- if not periods %}null{% endif -%}
    )
{%- endmacro %}


{#- `where|and <column> in (<the changed periods>)` on an incremental run; nothing on a full build. -#}
{% macro where_changed_period(column, periods, keyword='where') -%}
    {%- if periods is not none %}{{ keyword }} {{ period_in(column, periods) }}{% endif -%}
{%- endmacro %}


{#- Half-year arithmetic on ids such as 2025S1 (other period ids are left out). -#}
{% macro _halfyear_index(period) -%}
    {%- if period is string and period | length == 6 and period[4] == 'S' and period[5] in '12' -%}
        {{ return(period[:4] | int * 2 + period[5] | int - 1) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{% macro _halfyear_id(index) -%}
    {{ return((index // 2) ~ 'S' ~ (index % 2 + 1)) }}
{%- endmacro %}


{#- The half-years just before those of `periods`; none stays none (a full build). -#}
{% macro previous_halfyears(periods) -%}
    {%- if periods is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set ids = [] -%}
    {%- for period in periods -%}
        {%- set index = _halfyear_index(period) -%}
        {%- if index is not none -%}
            {%- do ids.append(_halfyear_id(index - 1)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ids | unique | sort | list) }}
{%- endmacro %}


{#- Rows of (period_id, load_signature), one per year: the state of the facts a year's figures are
    made of, its own (a source reporting the year itself) and its two half-years' (from `facts`'
    signatures). -#}
{% macro year_signatures(facts) -%}
    select
        left(period_id, 4) as period_id,
        hashtextextended(string_agg(period_id || ':' || load_signature::text, ',' order by period_id), 0)
            as load_signature
    from ({{ signatures_of(facts) }}) as of_year
    where period_id ~ '^[0-9]{4}(S[12])?$'
    group by left(period_id, 4)
{%- endmacro %}


{#- Rows of (period_id, load_signature) for int_unit_coverage: a period's coverage counts the facts
    of that period, a year's also those of its two half-years (from `facts`' signatures). -#}
{% macro coverage_signatures(facts) -%}
    select period_id, load_signature
    from ({{ signatures_of(facts) }}) as own
    where period_id !~ '^[0-9]{4}$'
    union all
    {{ year_signatures(facts) }}
{%- endmacro %}


{#- The years just before those of `periods`; none stays none (a full build). -#}
{% macro previous_years(periods) -%}
    {%- if periods is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set ids = [] -%}
    {%- for period in periods -%}
        {%- if period is string and period | length == 4 and period.isdigit() -%}
            {%- do ids.append((period | int - 1) ~ '') -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ids | unique | sort | list) }}
{%- endmacro %}


{#- The periods whose facts a rebuild of `periods` reads: each one, and a year's two half-years;
    none stays none (a full build). -#}
{% macro with_halfyears_of_years(periods) -%}
    {%- if periods is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set ids = [] -%}
    {%- for period in periods -%}
        {%- do ids.append(period) -%}
        {%- if period is string and period | length == 4 and period.isdigit() -%}
            {%- do ids.extend([period ~ 'S1', period ~ 'S2']) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ids | unique | sort | list) }}
{%- endmacro %}


{#- mart_semiannual_indicator compares a half-year with the previous one as published (gated) in
    `marts`, so a half-year's signature is its facts' signature combined with the published
    signature of the half-year before it (none when that one is not published): the half-year is
    rebuilt when its facts change or when the half-year before it is published anew.
    mart_annual_indicator does the same by year. -#}
{% macro with_previous_signature(signature, previous_signature) -%}
    hashtextextended({{ signature }}::text || '|' || coalesce({{ previous_signature }}::text, 'unpublished'), 0)
{%- endmacro %}


{#- Rows of (period_id, load_signature) that a mart compared with its previous period as published
    should hold: from the rows of (period_id, load_signature) of what it is built from (`own`)
    and the published copy (`published`, none before the first publish). `grain`: `halfyear`
    (the previous period of 2025S1 is 2024S2) or `year` (2024 for 2025). A published copy
    without signatures (published by a release before them) counts as unpublished. -#}
{% macro signatures_with_published_previous(own, published, grain='halfyear') -%}
    select
        own.period_id,
        {{ with_previous_signature('own.load_signature', 'previous.load_signature') }} as load_signature
    from ({{ own }}) as own
    left join (
        {%- if not has_signatures(published) %}
        select null::text as period_id, null::bigint as load_signature where false
        {%- else %}
        select period_id, min(load_signature) as load_signature
        from ({{ signatures_of(published) }}) as published_signatures
        group by period_id
        {%- endif %}
    ) as previous
        on {{ previous_period('own.period_id', grain) }} = previous.period_id
{%- endmacro %}


{#- Whether `relation` (none: it does not exist) has the load_signature column. A unit test that
    overrides existing_relation() to say a published copy exists (true) gives its columns. -#}
{% macro has_signatures(relation) -%}
    {%- if not execute or relation is none or relation is sameas true -%}
        {{ return(relation is sameas true) }}
    {%- endif -%}
    {{ return('load_signature' in (adapter.get_columns_in_relation(relation) | map(attribute='name') | list)) }}
{%- endmacro %}


{#- The relation if it exists in the warehouse, else none (the published copy before the first
    publish). In a unit test an input has no schema (it is a CTE): none, unless the test
    overrides this macro (the model calls it directly for that). -#}
{% macro existing_relation(relation) -%}
    {%- if not execute or relation.schema is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(relation.database, relation.schema, relation.identifier)) }}
{%- endmacro %}


{#- SQL: the half-year before `column` (2025S1 -> 2024S2). -#}
{% macro previous_halfyear(column) -%}
    case
        when right({{ column }}, 1) = '2' then left({{ column }}, 4) || 'S1'
        else (left({{ column }}, 4)::integer - 1)::text || 'S2'
    end
{%- endmacro %}


{#- SQL: the period before `column` at `grain`: the half-year before (2025S1 -> 2024S2) or the
    year before (2025 -> 2024). -#}
{% macro previous_period(column, grain='halfyear') -%}
    {%- if grain == 'year' -%}
        ({{ column }}::integer - 1)::text
    {%- else -%}
        {{ previous_halfyear(column) }}
    {%- endif -%}
{%- endmacro %}
