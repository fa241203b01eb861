export { createPartnerApp, startPartnerApp, type PartnerApp, type PartnerAppOptions, type RunningPartnerApp } from './partner-app.ts';
