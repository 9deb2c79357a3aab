// Tests tenant and query-class decisions: tenant keys and patterns, rule order, comment tags and statement keywords.
import t from 'tap';
import { parseConfig } from '../../../../lib/config/schema.js';
import type { IsolationConfig } from '../../../../lib/config/types.js';
import { Frontend } from '../../../../lib/protocol/codes.js';
import { classOfMessage, ruleClassOf, tenantOf, type SessionFacts } from '../../../../lib/session/classify/classify.js';
import { cstr, message } from '../../../helpers/bytes.js';

function isolation(settings: Record<string, unknown> = {}): IsolationConfig {
  return parseConfig({ auth_type: 'trust', databases: { app: { host: '127.0.0.1' } }, ...settings }, { baseDir: '/' }).scheduler;
}

function facts(p: Partial<SessionFacts> = {}): SessionFacts {
  return { user: 'alice', database: 'app', applicationName: '', options: new Map(), ...p };
}

const query = (sql: string): Buffer => message('Q', cstr(sql));
const parse = (sql: string, name = 'stmt1'): Buffer => message('P', Buffer.concat([cstr(name), cstr(sql), Buffer.from([0, 0])]));

/** The class a whole message gets, with an optional session rule class. */
function classOf(cfg: IsolationConfig, msg: Buffer, sessionClass: string | null = null): string {
  return classOfMessage(cfg, sessionClass, msg[0], msg, 0, msg.length);
}

t.test('tenantOf: each tenant_key picks its field', async (t) => {
  const s = facts({ user: 'alice', database: 'shop', applicationName: 'web-7', options: new Map([['sluice.tenant', 'acme']]) });
  t.equal(tenantOf(isolation(), s), 'alice', 'user is the default key');
  t.equal(tenantOf(isolation({ tenant_key: 'database' }), s), 'shop');
  t.equal(tenantOf(isolation({ tenant_key: 'application_name' }), s), 'web-7', 'the whole application_name without a pattern');
  t.equal(tenantOf(isolation({ tenant_key: 'option' }), s), 'acme', 'the sluice.tenant startup option');
  const custom = isolation({ tenant_key: 'option', tenant_option: 'sluice.customer' });
  t.equal(tenantOf(custom, facts({ options: new Map([['sluice.customer', 'globex']]) })), 'globex', 'tenant_option names the option');
});

t.test(
  'tenantOf: tenant_pattern takes the first capture group, else the whole match; no match or no value falls back to the user',
  async (t) => {
    const captured = isolation({ tenant_key: 'application_name', tenant_pattern: '^tenant-(\\w+)' });
    t.equal(tenantOf(captured, facts({ applicationName: 'tenant-acme-worker' })), 'acme');
    t.equal(tenantOf(captured, facts({ applicationName: 'psql' })), 'alice', 'no match: the user');
    t.equal(tenantOf(captured, facts({ applicationName: '' })), 'alice', 'empty application_name: the user');
    const whole = isolation({ tenant_key: 'application_name', tenant_pattern: '[a-z]+' });
    t.equal(tenantOf(whole, facts({ applicationName: '42-acme-7' })), 'acme', 'no group: the matched text');
    t.equal(tenantOf(isolation({ tenant_key: 'option' }), facts()), 'alice', 'option missing: the user');
  },
);

t.test('ruleClassOf: application_name rules win over user/database rules, otherwise first match in order', async (t) => {
  const cfg = isolation({
    classes: { batch: {}, analytics: {}, reports: {} },
    class_rules: [
      { user: 'alice', class: 'batch' },
      { application_name: '^metabase', class: 'analytics' },
      { database: 'app', class: 'reports' },
      { application_name: '^metabase-admin', class: 'reports' },
    ],
  });
  t.equal(
    ruleClassOf(cfg, facts({ applicationName: 'metabase-admin' })),
    'analytics',
    'the first application_name rule, though a user rule is listed earlier',
  );
  t.equal(ruleClassOf(cfg, facts({ applicationName: 'psql' })), 'batch', 'no application_name rule matches: the first user/database rule');
  t.equal(ruleClassOf(cfg, facts({ user: 'carol', applicationName: 'psql' })), 'reports', 'database rule');
  t.equal(ruleClassOf(cfg, facts({ user: 'carol', database: 'other' })), null, 'nothing matches');
});

t.test('ruleClassOf: every field of a rule must match', async (t) => {
  const cfg = isolation({
    classes: { etl: {} },
    class_rules: [{ application_name: '^loader$', user: 'bob', database: 'app', class: 'etl' }],
  });
  t.equal(ruleClassOf(cfg, facts({ user: 'bob', applicationName: 'loader' })), 'etl');
  t.equal(ruleClassOf(cfg, facts({ user: 'alice', applicationName: 'loader' })), null, 'wrong user');
  t.equal(ruleClassOf(cfg, facts({ user: 'bob', database: 'x', applicationName: 'loader' })), null, 'wrong database');
});

t.test('classOfMessage: a comment tag at the start or end of a Query or Parse names the class', async (t) => {
  const cfg = isolation({ classes: { analytics: {} } });
  t.equal(classOf(cfg, query('/* sluice:class=analytics */ select 1')), 'analytics', 'leading tag');
  t.equal(classOf(cfg, query('  \n/*sluice:class=analytics*/select 1')), 'analytics', 'leading tag after whitespace');
  t.equal(classOf(cfg, query('select 1 /* sluice:class=analytics */')), 'analytics', 'trailing tag');
  t.equal(classOf(cfg, query('select 1 /* sluice.class = analytics */ ;  \n')), 'analytics', 'trailing tag before a semicolon');
  t.equal(classOf(cfg, query("select 1 /*controller='report',class='analytics',framework='django'*/")), 'analytics', 'sqlcommenter style');
  t.equal(classOf(cfg, parse('/* sluice:class=analytics */ select $1')), 'analytics', 'Parse: the SQL after the statement name');
  t.equal(classOf(cfg, parse("select $1 /*class='analytics'*/", '')), 'analytics', 'Parse of the unnamed statement, trailing sqlcommenter');
  t.equal(classOf(cfg, query('select 1')), 'default', 'no tag');
});

t.test('classOfMessage: unknown tags, tags in the middle and tag-like text outside a comment are ignored', async (t) => {
  const cfg = isolation({ classes: { analytics: {} } });
  t.equal(classOf(cfg, query('/* sluice:class=nosuch */ select 1')), 'default', 'a class not in the config');
  t.equal(
    classOf(cfg, query('/* sluice:class=nosuch */ select 1'), 'analytics'),
    'analytics',
    'an unknown tag falls back to the session class',
  );
  t.equal(classOf(cfg, query('/* sluice:class=default */ select 1'), 'analytics'), 'default', 'default may be asked for explicitly');
  t.equal(classOf(cfg, query('select /* sluice:class=analytics */ 1')), 'default', 'only leading or trailing comments count');
  t.equal(
    classOf(cfg, query("/* app */ update t set class='analytics'")),
    'default',
    'a string literal after a leading comment is not a tag',
  );
  t.equal(
    classOf(cfg, query("select 'sluice:class=analytics' /* end */")),
    'default',
    'a string literal before a trailing comment is not a tag',
  );
});

t.test('classOfMessage: a tag wins over the session rule class, which wins over the statement keyword', async (t) => {
  const cfg = isolation({ classes: { analytics: {}, migration: {}, bulk: {} } });
  t.equal(classOf(cfg, query('/* sluice:class=analytics */ create table x (a int)'), 'bulk'), 'analytics');
  t.equal(classOf(cfg, query('create table x (a int)'), 'bulk'), 'bulk');
  t.equal(classOf(cfg, query('create table x (a int)')), 'migration');
  t.equal(classOf(cfg, message('B', Buffer.alloc(8)), 'bulk'), 'bulk', 'a Bind of a prepared statement: the session class');
  t.equal(classOf(cfg, message('B', Buffer.alloc(8))), 'default', 'a Bind without a session class: default');
});

t.test('classOfMessage: DDL goes to migration and COPY to bulk, only when those classes exist', async (t) => {
  const both = isolation({ classes: { migration: { limit: 1 }, bulk: {} } });
  for (const sql of [
    'CREATE TABLE t (a int)',
    'alter table t add b int',
    'DROP INDEX i',
    'truncate t',
    'Vacuum t',
    'grant select on t to bob',
    'comment on table t is $$x$$',
  ]) {
    t.equal(classOf(both, query(sql)), 'migration', sql);
  }
  t.equal(classOf(both, query('COPY t FROM STDIN')), 'bulk');
  t.equal(
    classOf(both, query('-- schema change\n/* step 2 */  create index i on t (a)')),
    'migration',
    'comments before the keyword are skipped',
  );
  t.equal(classOf(both, parse('\n\tALTER TABLE t ADD c int')), 'migration', 'Parse too');
  t.equal(classOf(both, query('select 1; create table t2 (a int)')), 'default', 'only the first statement decides');
  t.equal(classOf(both, query('/* outer /* inner */ still a comment */ CREATE TABLE t (a int)')), 'migration', 'comments nest');
  t.equal(classOf(both, query('\f\tCOPY t FROM stdin')), 'bulk', 'a form feed is whitespace');
  t.equal(classOf(both, query('insert into created values (1)')), 'default');
  const none = isolation();
  t.equal(classOf(none, query('create table t (a int)')), 'default', 'no migration class: default');
  t.equal(classOf(none, query('copy t from stdin')), 'default', 'no bulk class: default');
});

t.test('messages that carry no SQL use the session class', async (t) => {
  const cfg = isolation({ classes: { analytics: {} } });
  const call = message(Frontend.FunctionCall, Buffer.alloc(10));
  t.equal(classOf(cfg, call, 'analytics'), 'analytics');
  t.equal(classOf(cfg, call), 'default');
});
