-- bench/me.lua: GET /api/auth/me with the token in the ACCESS_TOKEN env var.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ACCESS_TOKEN")
