-- bench/login.lua: POST /api/auth/login with the benchmark user's password.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"bench@example.id","password":"bench-password-1"}'
