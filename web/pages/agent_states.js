// pages/agent_states.js: names of agent states and away reasons, shared by
// the agent desktop and the supervisor view.
import { t, has } from '../i18n.js';

// The reasons offered for "away" (the API takes any text up to 64 characters).
export const AWAY_REASONS = ['break', 'lunch', 'meeting', 'training', 'other'];

export function stateLabel(state) {
  return has(`agent.state.${state}`) ? t(`agent.state.${state}`) : String(state || '');
}

export function reasonLabel(reason) {
  if (!reason) return '';
  return has(`agent.reason.${reason}`) ? t(`agent.reason.${reason}`) : String(reason);
}
