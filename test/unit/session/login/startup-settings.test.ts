// Tests for reading a startup packet's settings: its parameters, the switches of `options` (as Postgres splits them), tags, and ignore_startup_parameters.
import t from 'tap';
import { optionSettings, startupSettings } from '../../../../lib/session/login/startup-settings.js';

const packet = (o: Record<string, string>) => new Map(Object.entries(o));

t.test('every parameter but user, database, replication and protocol options is a setting, lower-cased', async (t) => {
  const r = startupSettings(
    packet({ user: 'u', database: 'd', replication: 'false', _pq_x: '1', DateStyle: 'ISO', statement_timeout: '5' }),
    [],
  );
  t.same(r, { settings: packet({ _pq_x: '1', datestyle: 'ISO', statement_timeout: '5' }), tags: new Map() });
  const pq = startupSettings(packet({ user: 'u', '_pq_.compression': 'on' }), []);
  t.same(pq, { settings: new Map(), tags: new Map() }, '_pq_.* is protocol negotiation, not a setting');
});

t.test('options: -c name=value, -cname=value, --name=value with dashes for underscores, backslash escapes', async (t) => {
  t.same(optionSettings('-c work_mem=7MB -clock_timeout=1s --statement-timeout=5  -c search_path=a,\\ b'), [
    ['work_mem', '7MB'],
    ['lock_timeout', '1s'],
    ['statement_timeout', '5'],
    ['search_path', 'a, b'],
  ]);
  t.same(optionSettings('-c x.y=back\\\\slash'), [['x.y', 'back\\slash']]);
  t.same(optionSettings('   '), []);
  t.same(optionSettings('-B 100'), { name: 'options switch -B' }, 'a server switch that is not a setting');
  t.same(optionSettings('-c work_mem'), { name: 'options switch work_mem (expected name=value)' });
  t.same(optionSettings('-c'), { name: 'options switch -c (expected name=value)' });
});

t.test('an options setting wins over the parameter of the same name; sluice.* are tags, not settings', async (t) => {
  const r = startupSettings(packet({ user: 'u', work_mem: '1MB', options: '-c work_mem=2MB -c sluice.tenant=acme' }), []);
  t.same(r, { settings: packet({ work_mem: '2MB' }), tags: packet({ 'sluice.tenant': 'acme' }) });
  t.same(startupSettings(packet({ options: '-d 5' }), []), { name: 'options switch -d' });
});

t.test('ignore_startup_parameters drops names from parameters and options; options drops the whole string but its tags', async (t) => {
  const p = packet({
    user: 'u',
    extra_float_digits: '2',
    work_mem: '1MB',
    options: '-c statement_timeout=5 -c lock_timeout=1s -c sluice.tenant=a',
  });
  t.same(startupSettings(p, ['extra_float_digits', 'statement_timeout']), {
    settings: packet({ work_mem: '1MB', lock_timeout: '1s' }),
    tags: packet({ 'sluice.tenant': 'a' }),
  });
  t.same(startupSettings(p, ['options']), {
    settings: packet({ extra_float_digits: '2', work_mem: '1MB' }),
    tags: packet({ 'sluice.tenant': 'a' }),
  });
  t.same(
    startupSettings(packet({ options: '-B 100 -c work_mem=1MB' }), ['options']),
    { settings: new Map(), tags: new Map() },
    'a string Sluice would refuse is dropped instead',
  );
});
