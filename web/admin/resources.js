// resources.js: what the admin pages know about each resource, as data.
// One generic renderer (admin/admin.js) draws the list and the form from
// these definitions; docs/API.md is the contract they follow.
//
// Field types:
//   text, textarea, password (write-only), int {min,max}, bool (a checkbox),
//   select {options},
//   ref {resource, nullable} (a select of another resource's items),
//   checkboxes {options} (an array of enum values),
//   refset {resource} (an array of ids, as checkboxes),
//   group {fields} (a nested object), rows {fields} (an array of objects)
//   or rows {item} (an array of scalars), time ("HH:MM"), date, timezone.
// Labels are i18n keys: `label` or else `field.<name>`; select option labels
// are `<optionKey>.<value>`.
import { LANGUAGES } from '../i18n.js';

const CHANNELS = ['voice', 'chat', 'email', 'messaging'];
const STRATEGIES = ['longest_idle', 'least_occupied', 'best_skill', 'round_robin', 'ring_all'];
const STEP_ACTIONS = ['lower_level', 'add_queue', 'drop_language', 'offer_callback'];
const EXIT_ACTIONS = ['timeout', 'overflow', 'queue'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const IDENTITY_TYPES = ['phone', 'email', 'chat', 'messenger'];

const nameField = { name: 'name', type: 'text', required: true };
const descriptionField = { name: 'description', type: 'textarea' };

export const RESOURCES = {
  users: {
    title: 'res.users',
    plural: 'res.users_plural',
    singular: 'res.user',
    display: 'username',
    read: ['admin'],
    write: ['admin'],
    columns: [
      { key: 'username' },
      { key: 'display_name' },
      { key: 'role', optionKey: 'role' },
      { key: 'language', optionKey: 'lang' },
    ],
    fields: [
      { name: 'username', type: 'text', required: true, hint: 'hint.username', autocomplete: 'off' },
      { name: 'display_name', type: 'text' },
      { name: 'role', type: 'select', required: true, options: ['admin', 'supervisor', 'agent'],
        optionKey: 'role', default: 'agent' },
      { name: 'language', type: 'select', options: LANGUAGES, optionKey: 'lang', default: 'en' },
      { name: 'password', type: 'password', hint: 'hint.password_create', hintEdit: 'hint.password_keep',
        requiredOnCreate: true },
    ],
  },

  agents: {
    title: 'res.agents',
    plural: 'res.agents_plural',
    singular: 'res.agent',
    display: 'name',
    read: ['admin', 'supervisor', 'agent'],
    write: ['admin', 'supervisor'],
    columns: [
      { key: 'name' },
      { key: 'team_id', label: 'field.team_id', ref: 'teams' },
      { key: 'skills', label: 'field.skills', format: 'agentSkills' },
      { key: 'capacity', label: 'field.capacity', format: 'capacity' },
    ],
    fields: [
      nameField,
      { name: 'user_id', type: 'ref', resource: 'users', nullable: true },
      { name: 'team_id', type: 'ref', resource: 'teams', nullable: true },
      { name: 'skills', type: 'rows', addLabel: 'action.add_skill', fields: [
        { name: 'skill_id', type: 'ref', resource: 'skills', required: true, label: 'field.skill_id' },
        { name: 'level', type: 'int', min: 1, max: 5, required: true, default: 3, label: 'field.level' },
      ] },
      { name: 'languages', type: 'rows', addLabel: 'action.add_language',
        item: { type: 'select', options: LANGUAGES, optionKey: 'lang', label: 'field.language', default: 'en' } },
      { name: 'capacity', type: 'group', hint: 'hint.capacity', fields: [
        { name: 'voice', type: 'int', min: 0, max: 10, default: 1, label: 'channel.voice' },
        { name: 'chat', type: 'int', min: 0, max: 20, default: 3, label: 'channel.chat' },
        { name: 'email', type: 'int', min: 0, max: 50, default: 5, label: 'channel.email' },
        { name: 'messaging', type: 'int', min: 0, max: 50, default: 5, label: 'channel.messaging' },
      ] },
      { name: 'queues', type: 'refset', resource: 'queues' },
    ],
  },

  skills: {
    title: 'res.skills',
    plural: 'res.skills_plural',
    singular: 'res.skill',
    display: 'name',
    read: ['admin', 'supervisor', 'agent'],
    write: ['admin'],
    columns: [{ key: 'name' }, { key: 'description' }],
    fields: [nameField, descriptionField],
  },

  teams: {
    title: 'res.teams',
    plural: 'res.teams_plural',
    singular: 'res.team',
    display: 'name',
    read: ['admin', 'supervisor', 'agent'],
    write: ['admin'],
    columns: [{ key: 'name' }, { key: 'description' }],
    fields: [nameField, descriptionField],
  },

  queues: {
    title: 'res.queues',
    plural: 'res.queues_plural',
    singular: 'res.queue',
    display: 'name',
    read: ['admin', 'supervisor', 'agent'],
    write: ['admin'],
    columns: [
      { key: 'name' },
      { key: 'channels', optionKey: 'channel' },
      { key: 'strategy', optionKey: 'strategy' },
      { key: 'priority' },
      { key: 'service_level', format: 'serviceLevel' },
    ],
    fields: [
      nameField,
      descriptionField,
      { name: 'channels', type: 'checkboxes', options: CHANNELS, optionKey: 'channel', default: CHANNELS },
      { name: 'strategy', type: 'select', options: STRATEGIES, optionKey: 'strategy', default: 'longest_idle' },
      { name: 'priority', type: 'int', min: 0, max: 100, default: 0, hint: 'hint.priority' },
      { name: 'language', type: 'select', options: LANGUAGES, optionKey: 'lang', default: 'en' },
      { name: 'required_skills', type: 'rows', addLabel: 'action.add_skill', fields: [
        { name: 'skill_id', type: 'ref', resource: 'skills', required: true, label: 'field.skill_id' },
        { name: 'min_level', type: 'int', min: 1, max: 5, required: true, default: 1 },
      ] },
      { name: 'service_level', type: 'group', hint: 'hint.service_level', fields: [
        { name: 'percent', type: 'int', min: 1, max: 100, required: true, default: 80 },
        { name: 'seconds', type: 'int', min: 1, max: 3600, required: true, default: 20 },
      ] },
      { name: 'offer_timeout_seconds', type: 'int', min: 5, max: 300, default: 15 },
      { name: 'wrap_up_seconds', type: 'int', min: 0, max: 3600, default: 30 },
      { name: 'business_hours', type: 'group', fields: [
        { name: 'timezone', type: 'timezone', default: 'UTC' },
        { name: 'weekly', type: 'rows', addLabel: 'action.add_hours', hint: 'hint.weekly', fields: [
          { name: 'day', type: 'select', options: DAYS, optionKey: 'day', required: true, default: 'mon' },
          { name: 'open', type: 'time', required: true, default: '08:00' },
          { name: 'close', type: 'time', required: true, default: '17:00' },
        ] },
        { name: 'holidays', type: 'rows', addLabel: 'action.add_holiday', fields: [
          { name: 'date', type: 'date', required: true },
          { name: 'name', type: 'text', label: 'field.holiday_name' },
        ] },
      ] },
      { name: 'overflow_steps', type: 'rows', addLabel: 'action.add_step', hint: 'hint.overflow_steps', fields: [
        { name: 'after_seconds', type: 'int', min: 1, max: 86400, required: true, default: 30 },
        { name: 'action', type: 'select', options: STEP_ACTIONS, optionKey: 'step', required: true, default: 'lower_level', label: 'field.step_action' },
        { name: 'levels', type: 'int', min: 1, max: 4, default: 1 },
        { name: 'queue_id', type: 'ref', resource: 'queues', nullable: true, label: 'field.step_queue' },
      ] },
      { name: 'max_wait_seconds', type: 'int', min: 0, max: 86400, default: 0, hint: 'hint.max_wait' },
      { name: 'max_wait_action', type: 'select', options: EXIT_ACTIONS, optionKey: 'exit', default: 'timeout' },
      { name: 'max_wait_queue_id', type: 'ref', resource: 'queues', nullable: true },
      { name: 'sticky_agent', type: 'group', hint: 'hint.sticky', fields: [
        { name: 'window_minutes', type: 'int', min: 0, max: 43200, default: 0 },
        { name: 'wait_seconds', type: 'int', min: 0, max: 600, default: 20 },
      ] },
      // voice calls (docs/VOICE.md)
      { name: 'voice_recording', type: 'bool', default: false },
      { name: 'voice_announce_s', type: 'int', min: 0, max: 3600, default: 30 },
      { name: 'voice_moh', type: 'text', hint: 'hint.voice_moh', default: '' },
      { name: 'voice_closed_text', type: 'textarea', hint: 'hint.voice_closed_text', default: '' },
    ],
  },

  customers: {
    title: 'res.customers',
    plural: 'res.customers_plural',
    singular: 'res.customer',
    display: 'name',
    read: ['admin', 'supervisor', 'agent'],
    write: ['admin', 'supervisor', 'agent'],
    search: 'q',
    columns: [
      { key: 'name' },
      { key: 'company' },
      { key: 'identities', format: 'identities' },
      { key: 'language', optionKey: 'lang' },
    ],
    fields: [
      nameField,
      { name: 'company', type: 'text' },
      { name: 'language', type: 'select', options: LANGUAGES, optionKey: 'lang', default: 'en' },
      { name: 'identities', type: 'rows', addLabel: 'action.add_identity', fields: [
        { name: 'type', type: 'select', options: IDENTITY_TYPES, optionKey: 'identity', required: true,
          default: 'phone' },
        { name: 'value', type: 'text', required: true },
      ] },
      { name: 'notes', type: 'textarea' },
    ],
  },
};

// The order of the admin navigation.
export const ADMIN_ORDER = ['users', 'agents', 'skills', 'teams', 'queues', 'customers'];
