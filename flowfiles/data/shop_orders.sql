-- The table the postgres-incremental-to-parquet example polls, and 1,000 orders in it.
--   psql -h 127.0.0.1 -U postgres test -f flowfiles/data/shop_orders.sql
-- Safe to run again: the table stays, and each run adds 1,000 newer orders (higher ids),
-- which the running flow picks up at its next poll.
CREATE TABLE IF NOT EXISTS shop_orders (
    order_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL,
    country     text NOT NULL,
    amount      numeric(10, 2) NOT NULL,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO shop_orders (customer_id, country, amount, status, created_at)
SELECT 1 + (i * 7919) % 50000,
       (ARRAY['de', 'fr', 'nl', 'us', 'gb', 'es', 'it', 'pl'])[1 + i % 8],
       round((5 + (i * 37) % 500 + (i % 100) / 100.0)::numeric, 2),
       (ARRAY['paid', 'paid', 'paid', 'open', 'cancelled'])[1 + i % 5],
       now() - (1000 - i) * interval '1 minute'
FROM generate_series(1, 1000) AS i;
