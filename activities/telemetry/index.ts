export * from './capabilities';
export * from './gateway-usage';
export * from './prometheus';
