// `npm run build:dashboard` (also run by `prepare`, so `npm install` builds the page).
import { buildDashboard, DASHBOARD_DIST_DIR } from '../serving-layer/index.ts';

const files = await buildDashboard();
console.log(`dashboard built into ${DASHBOARD_DIST_DIR}: ${files.join(', ')}`);
