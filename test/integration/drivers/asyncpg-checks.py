# Runs the driver checks (see test/helpers/driver-checks.ts) with asyncpg and prints one JSON line per check.
# asyncpg prepares every query it runs as a named statement and caches it per connection, with its result types.
import asyncio
import json
import sys

import asyncpg

CFG = json.loads(sys.argv[1])
OBSERVE = CFG["observeSql"]
STARTUP = CFG["startup"]
SCHEMA = CFG["schema"]
TABLE = CFG["table"]


def connect(app, settings=None):
    t = CFG["target"]
    return asyncpg.connect(host=t["host"], port=t["port"], user=t["user"], password=t["password"], database=t["database"],
                           server_settings={"application_name": app, **(settings or {})}, timeout=10, command_timeout=10)


async def admin(sql):
    a = CFG["admin"]
    c = await asyncpg.connect(host=a["host"], port=a["port"], user=a["user"], password=a["password"], database=a["database"])
    try:
        await c.execute(sql)
    finally:
        await c.close()


async def observe(conn):
    return dict(await conn.fetchrow(OBSERVE))


def sqlstate(exc):
    return {"error": getattr(exc, "sqlstate", None) or type(exc).__name__, "message": str(exc).splitlines()[0]}


async def check_prepared_hop():
    # In transaction mode, with a pool of 2, C takes A's backend while B still holds the other: A's second run moves.
    a, b, c = await connect("drv-a"), await connect("drv-b"), await connect("drv-c")
    q = "select $1::int * 2 as v, pg_backend_pid() as pid"
    await a.execute("begin")
    v1, pid1 = await a.fetchrow(q, 1)
    await b.execute("begin")
    await b.fetchval("select pg_backend_pid()")
    await a.execute("commit")
    await c.execute("begin")
    await c.fetchval("select 1")
    await b.execute("commit")
    v2, pid2 = await a.fetchrow(q, 2)
    await c.execute("commit")
    for x in (a, b, c):
        await x.close()
    return {"values": [v1, v2], "backends": len({pid1, pid2})}


STATEMENTS = [
    ("select $1::int + 1 as v", lambda i: (i,), lambda i: [i + 1]),
    ("select $1::text || '-x' as v", lambda i: (str(i),), lambda i: [f"{i}-x"]),
    ("select $1::int * 3 as v, $2::text as tag", lambda i: (i, f"t{i}"), lambda i: [i * 3, f"t{i}"]),
]


async def check_prepared_concurrent():
    tally = {"executions": 0, "wrong": 0, "errors": []}

    async def client(k):
        try:
            conn = await connect(f"drv-conc-{k}")
            try:
                for r in range(CFG["concurrentRounds"]):
                    for sql, params, want in STATEMENTS:
                        i = k * 1000 + r
                        row = list(await conn.fetchrow(sql, *params(i)))
                        tally["executions"] += 1
                        tally["wrong"] += row != want(i)
            finally:
                await conn.close()
        except Exception as e:  # noqa: BLE001 - reported, and the TS test asserts there are none
            tally["errors"].append(sqlstate(e))

    await asyncio.gather(*(client(k) for k in range(CFG["concurrentClients"])))
    return tally


async def select_all(conn, in_transaction):
    q = f"select * from {TABLE} order by id"
    try:
        if in_transaction:
            async with conn.transaction():
                rows = await conn.fetch(q)
        else:
            rows = await conn.fetch(q)
        return [list(r) for r in rows]
    except Exception as e:  # noqa: BLE001 - a wrong answer may surface as a protocol error: reported per attempt
        return sqlstate(e)


async def check_ddl():
    await admin(f"drop table if exists {TABLE}; create table {TABLE} (id int primary key, a int, b text);"
                f"insert into {TABLE} values (1, 10, 'x'), (2, 20, 'y'); grant select on {TABLE} to {CFG['target']['user']}")
    auto, tx = await connect("drv-ddl-auto"), await connect("drv-ddl-tx")
    out = {}
    for stage, ddl in CFG["ddl"]:
        for _ in range(3):
            await select_all(auto, False)
            await select_all(tx, True)
        await admin(f"alter table {TABLE} {ddl}")
        out[stage] = {
            "autocommit": [await select_all(auto, False) for _ in range(CFG["ddlAttempts"])],
            "transaction": [await select_all(tx, True) for _ in range(CFG["ddlAttempts"])],
        }
    await auto.close()
    await tx.close()
    return out


async def check_startup_settings():
    s = await connect(STARTUP["applicationName"], STARTUP["settings"])
    b = await connect("drv-bystander")
    out = {"startup": [], "bystander": []}
    for _ in range(3):
        out["startup"].append(await observe(s))
        out["bystander"].append(await observe(b))
    await s.close()
    await b.close()
    return out


async def check_reset():
    s = await connect(STARTUP["applicationName"], STARTUP["settings"])
    b = await connect("drv-bystander")
    await s.execute("set statement_timeout = '99'")
    await s.execute("set application_name = 'changed'")
    after_set = await observe(s)
    await s.execute("reset statement_timeout")
    await s.execute("reset application_name")
    after_reset = await observe(s)
    bystander = await observe(b)
    await s.execute("set lock_timeout = '55'")
    await s.execute("set statement_timeout = '66'")
    await s.execute("reset all")
    after_reset_all = await observe(s)
    await s.close()
    await b.close()
    return {"afterSet": after_set, "afterReset": after_reset, "bystander": bystander, "afterResetAll": after_reset_all}


async def check_set_stays():
    a, b = await connect("drv-setter"), await connect("drv-bystander")
    baseline = await observe(b)
    await a.execute(f"set search_path = {SCHEMA}, public")
    await a.execute("set statement_timeout = '4567'")
    await a.execute("set session characteristics as transaction isolation level serializable")
    out = {"baseline": baseline, "setter": [], "bystander": []}
    for _ in range(3):
        out["setter"].append(await observe(a))
        out["bystander"].append(await observe(b))
    seen = {"setter": [], "bystander": []}

    async def loop(who, conn):
        for _ in range(CFG["concurrentRounds"]):
            o = await observe(conn)
            if o not in seen[who]:
                seen[who].append(o)

    await asyncio.gather(loop("setter", a), loop("bystander", b))
    out["concurrent"] = seen
    await a.close()
    await b.close()
    return out


async def check_leftovers():
    # As many clients as the pool has server connections, each inside a transaction: together they see every one.
    conns = [await connect("drv-bystander") for _ in range(CFG["leftoverClients"])]
    seen = []
    for c in conns:
        await c.execute("begin")
        seen.append(await observe(c))
    for c in conns:
        await c.execute("commit")
        await c.close()
    return seen


CHECKS = {
    "prepared-hop": check_prepared_hop,
    "prepared-concurrent": check_prepared_concurrent,
    "ddl": check_ddl,
    "startup-settings": check_startup_settings,
    "reset": check_reset,
    "set-stays": check_set_stays,
    "leftovers": check_leftovers,
}


async def main():
    for name, fn in CHECKS.items():
        try:
            line = {"check": name, "got": await fn()}
        except Exception as e:  # noqa: BLE001 - one failing check must not hide the others
            line = {"check": name, "failed": sqlstate(e)}
        print(json.dumps(line, default=str), flush=True)


asyncio.run(main())
