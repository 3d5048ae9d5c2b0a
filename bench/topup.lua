-- bench/topup.lua: POST /api/wallet/topup (manual transfer) with the token
-- in the ACCESS_TOKEN env var; every request opens a new PENDING top-up.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ACCESS_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"amount":50000,"paymentMethod":"bank_transfer"}'
