// This file was generated with `cornucopia`. Do not modify.

#[derive(Debug)]
pub struct OrderByIdempotencyKeyParams<T1: crate::StringSql> {
    pub user_id: i64,
    pub idempotency_key: T1,
}
#[derive(Debug)]
pub struct InsertOrderParams<
    T1: crate::StringSql,
    T2: crate::ArraySql<Item = i64>,
    T3: crate::ArraySql<Item = i32>,
    T4: crate::StringSql,
    T5: crate::StringSql,
    T6: crate::StringSql,
> {
    pub user_id: i64,
    pub idempotency_key: Option<T1>,
    pub skus: T2,
    pub counts: T3,
    pub request_id: T4,
    pub traceparent: Option<T5>,
    pub tracestate: Option<T6>,
}
#[derive(Debug)]
pub struct SettleOrderParams<
    T1: crate::ArraySql<Item = i64>,
    T2: crate::ArraySql<Item = i64>,
    T3: crate::ArraySql<Item = i64>,
    T4: crate::StringSql,
    T5: crate::StringSql,
    T6: crate::StringSql,
    T7: crate::StringSql,
> {
    pub skus: T1,
    pub totals: T2,
    pub reserved: T3,
    pub id: i64,
    pub status: T4,
    pub request_id: T5,
    pub traceparent: Option<T6>,
    pub tracestate: Option<T7>,
}
#[derive(Debug)]
pub struct ClaimStaleOrdersParams<T1: crate::ArraySql<Item = i64>> {
    pub age_seconds: f64,
    pub skip: T1,
    pub batch: i64,
}
#[derive(Debug, Clone, PartialEq)]
pub struct OrderHeader {
    pub user_id: i64,
    pub status: String,
    pub idempotency_key: Option<String>,
}
pub struct OrderHeaderBorrowed<'a> {
    pub user_id: i64,
    pub status: &'a str,
    pub idempotency_key: Option<&'a str>,
}
impl<'a> From<OrderHeaderBorrowed<'a>> for OrderHeader {
    fn from(
        OrderHeaderBorrowed {
            user_id,
            status,
            idempotency_key,
        }: OrderHeaderBorrowed<'a>,
    ) -> Self {
        Self {
            user_id,
            status: status.into(),
            idempotency_key: idempotency_key.map(|v| v.into()),
        }
    }
}
#[derive(Debug, Clone, PartialEq, Copy)]
pub struct OrderItems {
    pub sku: i64,
    pub count: i32,
}
use crate::client::async_::GenericClient;
use futures::{self, StreamExt, TryStreamExt};
pub struct I64Query<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<i64, tokio_postgres::Error>,
    mapper: fn(i64) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> I64Query<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(self, mapper: fn(i64) -> R) -> I64Query<'c, 'a, 's, C, R, N> {
        I64Query {
            client: self.client,
            params: self.params,
            query: self.query,
            cached: self.cached,
            extractor: self.extractor,
            mapper,
        }
    }
    pub async fn one(self) -> Result<T, tokio_postgres::Error> {
        let row =
            crate::client::async_::one(self.client, self.query, &self.params, self.cached).await?;
        Ok((self.mapper)((self.extractor)(&row)?))
    }
    pub async fn all(self) -> Result<Vec<T>, tokio_postgres::Error> {
        self.iter().await?.try_collect().await
    }
    pub async fn opt(self) -> Result<Option<T>, tokio_postgres::Error> {
        let opt_row =
            crate::client::async_::opt(self.client, self.query, &self.params, self.cached).await?;
        Ok(opt_row
            .map(|row| {
                let extracted = (self.extractor)(&row)?;
                Ok((self.mapper)(extracted))
            })
            .transpose()?)
    }
    pub async fn iter(
        self,
    ) -> Result<
        impl futures::Stream<Item = Result<T, tokio_postgres::Error>> + 'c,
        tokio_postgres::Error,
    > {
        let stream = crate::client::async_::raw(
            self.client,
            self.query,
            crate::slice_iter(&self.params),
            self.cached,
        )
        .await?;
        let mapped = stream
            .map(move |res| {
                res.and_then(|row| {
                    let extracted = (self.extractor)(&row)?;
                    Ok((self.mapper)(extracted))
                })
            })
            .into_stream();
        Ok(mapped)
    }
}
pub struct OrderHeaderQuery<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<OrderHeaderBorrowed, tokio_postgres::Error>,
    mapper: fn(OrderHeaderBorrowed) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> OrderHeaderQuery<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(
        self,
        mapper: fn(OrderHeaderBorrowed) -> R,
    ) -> OrderHeaderQuery<'c, 'a, 's, C, R, N> {
        OrderHeaderQuery {
            client: self.client,
            params: self.params,
            query: self.query,
            cached: self.cached,
            extractor: self.extractor,
            mapper,
        }
    }
    pub async fn one(self) -> Result<T, tokio_postgres::Error> {
        let row =
            crate::client::async_::one(self.client, self.query, &self.params, self.cached).await?;
        Ok((self.mapper)((self.extractor)(&row)?))
    }
    pub async fn all(self) -> Result<Vec<T>, tokio_postgres::Error> {
        self.iter().await?.try_collect().await
    }
    pub async fn opt(self) -> Result<Option<T>, tokio_postgres::Error> {
        let opt_row =
            crate::client::async_::opt(self.client, self.query, &self.params, self.cached).await?;
        Ok(opt_row
            .map(|row| {
                let extracted = (self.extractor)(&row)?;
                Ok((self.mapper)(extracted))
            })
            .transpose()?)
    }
    pub async fn iter(
        self,
    ) -> Result<
        impl futures::Stream<Item = Result<T, tokio_postgres::Error>> + 'c,
        tokio_postgres::Error,
    > {
        let stream = crate::client::async_::raw(
            self.client,
            self.query,
            crate::slice_iter(&self.params),
            self.cached,
        )
        .await?;
        let mapped = stream
            .map(move |res| {
                res.and_then(|row| {
                    let extracted = (self.extractor)(&row)?;
                    Ok((self.mapper)(extracted))
                })
            })
            .into_stream();
        Ok(mapped)
    }
}
pub struct StringQuery<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<&str, tokio_postgres::Error>,
    mapper: fn(&str) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> StringQuery<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(self, mapper: fn(&str) -> R) -> StringQuery<'c, 'a, 's, C, R, N> {
        StringQuery {
            client: self.client,
            params: self.params,
            query: self.query,
            cached: self.cached,
            extractor: self.extractor,
            mapper,
        }
    }
    pub async fn one(self) -> Result<T, tokio_postgres::Error> {
        let row =
            crate::client::async_::one(self.client, self.query, &self.params, self.cached).await?;
        Ok((self.mapper)((self.extractor)(&row)?))
    }
    pub async fn all(self) -> Result<Vec<T>, tokio_postgres::Error> {
        self.iter().await?.try_collect().await
    }
    pub async fn opt(self) -> Result<Option<T>, tokio_postgres::Error> {
        let opt_row =
            crate::client::async_::opt(self.client, self.query, &self.params, self.cached).await?;
        Ok(opt_row
            .map(|row| {
                let extracted = (self.extractor)(&row)?;
                Ok((self.mapper)(extracted))
            })
            .transpose()?)
    }
    pub async fn iter(
        self,
    ) -> Result<
        impl futures::Stream<Item = Result<T, tokio_postgres::Error>> + 'c,
        tokio_postgres::Error,
    > {
        let stream = crate::client::async_::raw(
            self.client,
            self.query,
            crate::slice_iter(&self.params),
            self.cached,
        )
        .await?;
        let mapped = stream
            .map(move |res| {
                res.and_then(|row| {
                    let extracted = (self.extractor)(&row)?;
                    Ok((self.mapper)(extracted))
                })
            })
            .into_stream();
        Ok(mapped)
    }
}
pub struct OrderItemsQuery<'c, 'a, 's, C: GenericClient, T, const N: usize> {
    client: &'c C,
    params: [&'a (dyn postgres_types::ToSql + Sync); N],
    query: &'static str,
    cached: Option<&'s tokio_postgres::Statement>,
    extractor: fn(&tokio_postgres::Row) -> Result<OrderItems, tokio_postgres::Error>,
    mapper: fn(OrderItems) -> T,
}
impl<'c, 'a, 's, C, T: 'c, const N: usize> OrderItemsQuery<'c, 'a, 's, C, T, N>
where
    C: GenericClient,
{
    pub fn map<R>(self, mapper: fn(OrderItems) -> R) -> OrderItemsQuery<'c, 'a, 's, C, R, N> {
        OrderItemsQuery {
            client: self.client,
            params: self.params,
            query: self.query,
            cached: self.cached,
            extractor: self.extractor,
            mapper,
        }
    }
    pub async fn one(self) -> Result<T, tokio_postgres::Error> {
        let row =
            crate::client::async_::one(self.client, self.query, &self.params, self.cached).await?;
        Ok((self.mapper)((self.extractor)(&row)?))
    }
    pub async fn all(self) -> Result<Vec<T>, tokio_postgres::Error> {
        self.iter().await?.try_collect().await
    }
    pub async fn opt(self) -> Result<Option<T>, tokio_postgres::Error> {
        let opt_row =
            crate::client::async_::opt(self.client, self.query, &self.params, self.cached).await?;
        Ok(opt_row
            .map(|row| {
                let extracted = (self.extractor)(&row)?;
                Ok((self.mapper)(extracted))
            })
            .transpose()?)
    }
    pub async fn iter(
        self,
    ) -> Result<
        impl futures::Stream<Item = Result<T, tokio_postgres::Error>> + 'c,
        tokio_postgres::Error,
    > {
        let stream = crate::client::async_::raw(
            self.client,
            self.query,
            crate::slice_iter(&self.params),
            self.cached,
        )
        .await?;
        let mapped = stream
            .map(move |res| {
                res.and_then(|row| {
                    let extracted = (self.extractor)(&row)?;
                    Ok((self.mapper)(extracted))
                })
            })
            .into_stream();
        Ok(mapped)
    }
}
pub struct OrderByIdempotencyKeyStmt(&'static str, Option<tokio_postgres::Statement>);
/// The order a user's idempotency key names, unless it failed.
pub fn order_by_idempotency_key() -> OrderByIdempotencyKeyStmt {
    OrderByIdempotencyKeyStmt(
        "SELECT id FROM orders WHERE user_id = $1 AND idempotency_key = $2 AND status <> 'failed'",
        None,
    )
}
impl OrderByIdempotencyKeyStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient, T1: crate::StringSql>(
        &'s self,
        client: &'c C,
        user_id: &'a i64,
        idempotency_key: &'a T1,
    ) -> I64Query<'c, 'a, 's, C, i64, 2> {
        I64Query {
            client,
            params: [user_id, idempotency_key],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<'c, 'a, 's, C: GenericClient, T1: crate::StringSql>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        OrderByIdempotencyKeyParams<T1>,
        I64Query<'c, 'a, 's, C, i64, 2>,
        C,
    > for OrderByIdempotencyKeyStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a OrderByIdempotencyKeyParams<T1>,
    ) -> I64Query<'c, 'a, 's, C, i64, 2> {
        self.bind(client, &params.user_id, &params.idempotency_key)
    }
}
pub struct InsertOrderStmt(&'static str, Option<tokio_postgres::Statement>);
/// Stores a new order, status 'new', with its positions (`skus[i]` with `counts[i]` units) and the
/// event of its creation (with the trace context of the change, when there is one), in one statement;
/// returns its id.
pub fn insert_order() -> InsertOrderStmt {
    InsertOrderStmt(
        "WITH new_order AS ( INSERT INTO orders (user_id, status, idempotency_key) VALUES ($1, 'new', $2) RETURNING id ), positions AS ( INSERT INTO order_items (order_id, sku, count) SELECT new_order.id, item.sku, item.count FROM new_order, unnest($3::bigint[], $4::integer[]) AS item (sku, count) ), created AS ( INSERT INTO order_events (order_id, status, request_id, traceparent, tracestate) SELECT new_order.id, 'new', $5, $6, $7 FROM new_order ) SELECT id FROM new_order",
        None,
    )
}
impl InsertOrderStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<
        'c,
        'a,
        's,
        C: GenericClient,
        T1: crate::StringSql,
        T2: crate::ArraySql<Item = i64>,
        T3: crate::ArraySql<Item = i32>,
        T4: crate::StringSql,
        T5: crate::StringSql,
        T6: crate::StringSql,
    >(
        &'s self,
        client: &'c C,
        user_id: &'a i64,
        idempotency_key: &'a Option<T1>,
        skus: &'a T2,
        counts: &'a T3,
        request_id: &'a T4,
        traceparent: &'a Option<T5>,
        tracestate: &'a Option<T6>,
    ) -> I64Query<'c, 'a, 's, C, i64, 7> {
        I64Query {
            client,
            params: [
                user_id,
                idempotency_key,
                skus,
                counts,
                request_id,
                traceparent,
                tracestate,
            ],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<
    'c,
    'a,
    's,
    C: GenericClient,
    T1: crate::StringSql,
    T2: crate::ArraySql<Item = i64>,
    T3: crate::ArraySql<Item = i32>,
    T4: crate::StringSql,
    T5: crate::StringSql,
    T6: crate::StringSql,
>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        InsertOrderParams<T1, T2, T3, T4, T5, T6>,
        I64Query<'c, 'a, 's, C, i64, 7>,
        C,
    > for InsertOrderStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a InsertOrderParams<T1, T2, T3, T4, T5, T6>,
    ) -> I64Query<'c, 'a, 's, C, i64, 7> {
        self.bind(
            client,
            &params.user_id,
            &params.idempotency_key,
            &params.skus,
            &params.counts,
            &params.request_id,
            &params.traceparent,
            &params.tracestate,
        )
    }
}
pub struct SettleOrderStmt(&'static str, Option<tokio_postgres::Statement>);
/// Writes stock levels computed under `lock_stocks` (`skus[i]` gets `totals[i]` and `reserved[i]`;
/// empty arrays write none), the order's new status and the event of that change (with its trace
/// context, when there is one), in one statement; returns the order's id.
pub fn settle_order() -> SettleOrderStmt {
    SettleOrderStmt(
        "WITH levels AS ( UPDATE stocks SET total = level.total, reserved = level.reserved FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS level (sku, total, reserved) WHERE stocks.sku = level.sku ), changed AS ( INSERT INTO order_events (order_id, status, request_id, traceparent, tracestate) VALUES ($4, $5, $6, $7, $8) ) UPDATE orders SET status = $5, updated_at = now() WHERE id = $4 RETURNING id",
        None,
    )
}
impl SettleOrderStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<
        'c,
        'a,
        's,
        C: GenericClient,
        T1: crate::ArraySql<Item = i64>,
        T2: crate::ArraySql<Item = i64>,
        T3: crate::ArraySql<Item = i64>,
        T4: crate::StringSql,
        T5: crate::StringSql,
        T6: crate::StringSql,
        T7: crate::StringSql,
    >(
        &'s self,
        client: &'c C,
        skus: &'a T1,
        totals: &'a T2,
        reserved: &'a T3,
        id: &'a i64,
        status: &'a T4,
        request_id: &'a T5,
        traceparent: &'a Option<T6>,
        tracestate: &'a Option<T7>,
    ) -> I64Query<'c, 'a, 's, C, i64, 8> {
        I64Query {
            client,
            params: [
                skus,
                totals,
                reserved,
                id,
                status,
                request_id,
                traceparent,
                tracestate,
            ],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<
    'c,
    'a,
    's,
    C: GenericClient,
    T1: crate::ArraySql<Item = i64>,
    T2: crate::ArraySql<Item = i64>,
    T3: crate::ArraySql<Item = i64>,
    T4: crate::StringSql,
    T5: crate::StringSql,
    T6: crate::StringSql,
    T7: crate::StringSql,
>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        SettleOrderParams<T1, T2, T3, T4, T5, T6, T7>,
        I64Query<'c, 'a, 's, C, i64, 8>,
        C,
    > for SettleOrderStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a SettleOrderParams<T1, T2, T3, T4, T5, T6, T7>,
    ) -> I64Query<'c, 'a, 's, C, i64, 8> {
        self.bind(
            client,
            &params.skus,
            &params.totals,
            &params.reserved,
            &params.id,
            &params.status,
            &params.request_id,
            &params.traceparent,
            &params.tracestate,
        )
    }
}
pub struct OrderHeaderStmt(&'static str, Option<tokio_postgres::Statement>);
pub fn order_header() -> OrderHeaderStmt {
    OrderHeaderStmt(
        "SELECT user_id, status, idempotency_key FROM orders WHERE id = $1",
        None,
    )
}
impl OrderHeaderStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient>(
        &'s self,
        client: &'c C,
        id: &'a i64,
    ) -> OrderHeaderQuery<'c, 'a, 's, C, OrderHeader, 1> {
        OrderHeaderQuery {
            client,
            params: [id],
            query: self.0,
            cached: self.1.as_ref(),
            extractor:
                |row: &tokio_postgres::Row| -> Result<OrderHeaderBorrowed, tokio_postgres::Error> {
                    Ok(OrderHeaderBorrowed {
                        user_id: row.try_get(0)?,
                        status: row.try_get(1)?,
                        idempotency_key: row.try_get(2)?,
                    })
                },
            mapper: |it| OrderHeader::from(it),
        }
    }
}
pub struct LockOrderStatusStmt(&'static str, Option<tokio_postgres::Statement>);
/// The order's status, its row locked until the transaction ends.
pub fn lock_order_status() -> LockOrderStatusStmt {
    LockOrderStatusStmt("SELECT status FROM orders WHERE id = $1 FOR UPDATE", None)
}
impl LockOrderStatusStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient>(
        &'s self,
        client: &'c C,
        id: &'a i64,
    ) -> StringQuery<'c, 'a, 's, C, String, 1> {
        StringQuery {
            client,
            params: [id],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it.into(),
        }
    }
}
pub struct OrderItemsStmt(&'static str, Option<tokio_postgres::Statement>);
pub fn order_items() -> OrderItemsStmt {
    OrderItemsStmt(
        "SELECT sku, count FROM order_items WHERE order_id = $1 ORDER BY sku",
        None,
    )
}
impl OrderItemsStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient>(
        &'s self,
        client: &'c C,
        order_id: &'a i64,
    ) -> OrderItemsQuery<'c, 'a, 's, C, OrderItems, 1> {
        OrderItemsQuery {
            client,
            params: [order_id],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row: &tokio_postgres::Row| -> Result<OrderItems, tokio_postgres::Error> {
                Ok(OrderItems {
                    sku: row.try_get(0)?,
                    count: row.try_get(1)?,
                })
            },
            mapper: |it| OrderItems::from(it),
        }
    }
}
pub struct ClaimStaleOrdersStmt(&'static str, Option<tokio_postgres::Statement>);
/// Up to `batch` orders awaiting payment since `age_seconds` or longer, oldest first, none of `skip`
/// (orders this period could not settle), their rows locked until the transaction ends. Rows another
/// transaction holds (a pay, a cancel, another loms replica's canceller) are skipped, not waited for:
/// no order is claimed twice.
pub fn claim_stale_orders() -> ClaimStaleOrdersStmt {
    ClaimStaleOrdersStmt(
        "SELECT id FROM orders WHERE status = 'awaiting payment' AND created_at <= now() - make_interval(secs => $1::float8) AND id <> ALL ($2::bigint[]) ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED",
        None,
    )
}
impl ClaimStaleOrdersStmt {
    pub async fn prepare<'a, C: GenericClient>(
        mut self,
        client: &'a C,
    ) -> Result<Self, tokio_postgres::Error> {
        self.1 = Some(client.prepare(self.0).await?);
        Ok(self)
    }
    pub fn bind<'c, 'a, 's, C: GenericClient, T1: crate::ArraySql<Item = i64>>(
        &'s self,
        client: &'c C,
        age_seconds: &'a f64,
        skip: &'a T1,
        batch: &'a i64,
    ) -> I64Query<'c, 'a, 's, C, i64, 3> {
        I64Query {
            client,
            params: [age_seconds, skip, batch],
            query: self.0,
            cached: self.1.as_ref(),
            extractor: |row| Ok(row.try_get(0)?),
            mapper: |it| it,
        }
    }
}
impl<'c, 'a, 's, C: GenericClient, T1: crate::ArraySql<Item = i64>>
    crate::client::async_::Params<
        'c,
        'a,
        's,
        ClaimStaleOrdersParams<T1>,
        I64Query<'c, 'a, 's, C, i64, 3>,
        C,
    > for ClaimStaleOrdersStmt
{
    fn params(
        &'s self,
        client: &'c C,
        params: &'a ClaimStaleOrdersParams<T1>,
    ) -> I64Query<'c, 'a, 's, C, i64, 3> {
        self.bind(client, &params.age_seconds, &params.skip, &params.batch)
    }
}
