# Runs the driver checks (see test/helpers/driver-checks.ts) with psycopg 3 and prints one JSON line per check.
import json
import sys
import threading

import psycopg

CFG = json.loads(sys.argv[1])
OBSERVE = CFG["observeSql"]
STARTUP = CFG["startup"]
SCHEMA = CFG["schema"]
TABLE = CFG["table"]


def connect(app, options=None, autocommit=True):
    t = CFG["target"]
    # connect_timeout only bounds the login; a lost answer is bounded by the test's kill of this process.
    return psycopg.connect(host=t["host"], port=t["port"], user=t["user"], password=t["password"], dbname=t["database"],
                           application_name=app, options=options, autocommit=autocommit, connect_timeout=10)


def admin(sql):
    a = CFG["admin"]
    with psycopg.connect(host=a["host"], port=a["port"], user=a["user"], password=a["password"], dbname=a["database"],
                         autocommit=True) as c:
        c.execute(sql)


def observe(conn):
    cur = conn.execute(OBSERVE)
    names = [d.name for d in cur.description]
    return dict(zip(names, cur.fetchone()))


def sqlstate(exc):
    return {"error": getattr(exc, "sqlstate", None) or type(exc).__name__, "message": str(exc).splitlines()[0]}


def startup_options():
    return " ".join(f"-c {k}={v}" for k, v in STARTUP["settings"].items())


def check_prepared_hop():
    # In transaction mode, with a pool of 2, C takes A's backend while B still holds the other: A's second run moves.
    a, b, c = connect("drv-a"), connect("drv-b"), connect("drv-c")
    q = "select %s::int * 2 as v, pg_backend_pid() as pid"
    a.execute("begin")
    v1, pid1 = a.execute(q, (1,), prepare=True).fetchone()
    b.execute("begin")
    b.execute("select pg_backend_pid()")
    a.execute("commit")
    c.execute("begin")
    c.execute("select 1")
    b.execute("commit")
    v2, pid2 = a.execute(q, (2,), prepare=True).fetchone()
    c.execute("commit")
    for x in (a, b, c):
        x.close()
    return {"values": [v1, v2], "backends": len({pid1, pid2})}


STATEMENTS = [
    ("select %s::int + 1 as v", lambda i: (i,), lambda i: [i + 1]),
    ("select %s::text || '-x' as v", lambda i: (str(i),), lambda i: [f"{i}-x"]),
    ("select %s::int * 3 as v, %s::text as tag", lambda i: (i, f"t{i}"), lambda i: [i * 3, f"t{i}"]),
]


def check_prepared_concurrent():
    n_clients, rounds = CFG["concurrentClients"], CFG["concurrentRounds"]
    lock = threading.Lock()
    tally = {"executions": 0, "wrong": 0, "errors": []}

    def client(k):
        try:
            with connect(f"drv-conc-{k}") as conn:
                for r in range(rounds):
                    for sql, params, want in STATEMENTS:
                        i = k * 1000 + r
                        row = list(conn.execute(sql, params(i), prepare=True).fetchone())
                        with lock:
                            tally["executions"] += 1
                            tally["wrong"] += row != want(i)
        except Exception as e:  # noqa: BLE001 - reported, and the TS test asserts there are none
            with lock:
                tally["errors"].append(sqlstate(e))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n_clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return tally


def select_all(conn, in_transaction):
    q = f"select * from {TABLE} order by id"
    try:
        if in_transaction:
            with conn.transaction():
                rows = conn.execute(q, prepare=True).fetchall()
        else:
            rows = conn.execute(q, prepare=True).fetchall()
        return [list(r) for r in rows]
    except Exception as e:  # noqa: BLE001 - a wrong answer may surface as a decoding error: reported per attempt
        return sqlstate(e)


def check_ddl():
    admin(f"drop table if exists {TABLE}; create table {TABLE} (id int primary key, a int, b text);"
          f"insert into {TABLE} values (1, 10, 'x'), (2, 20, 'y'); grant select on {TABLE} to {CFG['target']['user']}")
    auto, tx = connect("drv-ddl-auto"), connect("drv-ddl-tx")
    out = {}
    for stage, ddl in CFG["ddl"]:
        for _ in range(3):
            select_all(auto, False)
            select_all(tx, True)
        admin(f"alter table {TABLE} {ddl}")
        out[stage] = {
            "autocommit": [select_all(auto, False) for _ in range(CFG["ddlAttempts"])],
            "transaction": [select_all(tx, True) for _ in range(CFG["ddlAttempts"])],
        }
    auto.close()
    tx.close()
    return out


def check_startup_settings():
    s = connect(STARTUP["applicationName"], startup_options())
    b = connect("drv-bystander")
    out = {"startup": [], "bystander": []}
    for _ in range(3):
        out["startup"].append(observe(s))
        out["bystander"].append(observe(b))
    s.close()
    b.close()
    return out


def check_reset():
    s = connect(STARTUP["applicationName"], startup_options())
    b = connect("drv-bystander")
    s.execute("set statement_timeout = '99'")
    s.execute("set application_name = 'changed'")
    after_set = observe(s)
    s.execute("reset statement_timeout")
    s.execute("reset application_name")
    after_reset = observe(s)
    bystander = observe(b)
    s.execute("set lock_timeout = '55'")
    s.execute("set statement_timeout = '66'")
    s.execute("reset all")
    after_reset_all = observe(s)
    s.close()
    b.close()
    return {"afterSet": after_set, "afterReset": after_reset, "bystander": bystander, "afterResetAll": after_reset_all}


def check_set_stays():
    a, b = connect("drv-setter"), connect("drv-bystander")
    baseline = observe(b)
    a.execute(f"set search_path = {SCHEMA}, public")
    a.execute("set statement_timeout = '4567'")
    a.execute("set session characteristics as transaction isolation level serializable")
    out = {"baseline": baseline, "setter": [], "bystander": []}
    for _ in range(3):
        out["setter"].append(observe(a))
        out["bystander"].append(observe(b))
    seen = {"setter": [], "bystander": []}

    def loop(who, conn):
        for _ in range(CFG["concurrentRounds"]):
            o = observe(conn)
            if o not in seen[who]:
                seen[who].append(o)

    threads = [threading.Thread(target=loop, args=("setter", a)), threading.Thread(target=loop, args=("bystander", b))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out["concurrent"] = seen
    a.close()
    b.close()
    return out


def check_leftovers():
    # As many clients as the pool has server connections, each inside a transaction: together they see every one.
    conns = [connect("drv-bystander") for _ in range(CFG["leftoverClients"])]
    seen = []
    for c in conns:
        c.execute("begin")
        seen.append(observe(c))
    for c in conns:
        c.execute("commit")
        c.close()
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

for name, fn in CHECKS.items():
    try:
        line = {"check": name, "got": fn()}
    except Exception as e:  # noqa: BLE001 - one failing check must not hide the others
        line = {"check": name, "failed": sqlstate(e)}
    print(json.dumps(line, default=str), flush=True)
