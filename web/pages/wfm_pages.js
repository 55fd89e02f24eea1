// pages/wfm_pages.js: the workforce pages under #/wfm/<name> (the
// calculator itself is #/wfm, pages/wfm.js). app.js routes through this
// table; each page is page(main, env) like every other page.
import { forecastPage } from './wfm_forecast.js';
import { staffingPage } from './wfm_staffing.js';
import { schedulePage } from './wfm_schedule.js';
import { adherencePage } from './wfm_adherence.js';
import { simulatePage } from './wfm_simulate.js';

export const WFM_PAGES = {
  forecast: forecastPage,
  staffing: staffingPage,
  schedule: schedulePage,
  adherence: adherencePage,
  simulate: simulatePage,
};
